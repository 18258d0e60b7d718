// RUN: cofactor-opt %s -p lower-rt-to-llvm | filecheck %s

// The check is one unsigned compare on the hot path; the error is recorded
// out of line, and only when no error is recorded yet.
func.func @check(%i: i64, %n: i64) -> i1 {
  %ok = rt.check_index %i, %n {axis = 1 : i64} : i64
  func.return %ok : i1
}

// CHECK-LABEL: func.func @check(%i: i64, %n: i64) -> i1 {
// CHECK-NEXT:    %[[CTX:.*]] = rt.ctx : !llvm.ptr
// CHECK-NEXT:    %ok = llvm.icmp "ult" %i, %n : i64
// CHECK-NEXT:    llvm.cond_br %ok, ^[[CONT:.*]], ^[[FAIL:.*]]
// CHECK-NEXT:  ^[[FAIL]]:
// CHECK-NEXT:    %[[CODE:.*]] = llvm.getelementptr %[[CTX]][0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(!llvm.ptr, i64, i64, i64, i64)>
// CHECK-NEXT:    %[[OLD:.*]] = llvm.load %[[CODE]] : !llvm.ptr -> i64
// CHECK-NEXT:    %[[ZERO:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %[[FIRST:.*]] = llvm.icmp "eq" %[[OLD]], %[[ZERO]] : i64
// CHECK-NEXT:    llvm.cond_br %[[FIRST]], ^[[RECORD:.*]], ^[[CONT]]
// CHECK-NEXT:  ^[[RECORD]]:
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    llvm.store %[[ONE]], %[[CODE]] : i64, !llvm.ptr
// CHECK-NEXT:    %[[A:.*]] = llvm.getelementptr %[[CTX]][0, 2]
// CHECK-NEXT:    llvm.store %i, %[[A]] : i64, !llvm.ptr
// CHECK-NEXT:    %[[AXIS:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[B:.*]] = llvm.getelementptr %[[CTX]][0, 3]
// CHECK-NEXT:    llvm.store %[[AXIS]], %[[B]] : i64, !llvm.ptr
// CHECK-NEXT:    %[[C:.*]] = llvm.getelementptr %[[CTX]][0, 4]
// CHECK-NEXT:    llvm.store %n, %[[C]] : i64, !llvm.ptr
// CHECK-NEXT:    llvm.br ^[[CONT]]
// CHECK-NEXT:  ^[[CONT]]:
// CHECK-NEXT:    func.return %ok : i1

// raise_if records its code, and info as err_a. Two ops share one rt.ctx.
func.func @raise(%c: i1, %d: i1) {
  rt.raise_if %c {code = 3 : i64, info = 7 : i64}
  rt.raise_if %d {code = 2 : i64, info = 0 : i64}
  func.return
}

// CHECK-LABEL: func.func @raise(%c: i1, %d: i1) {
// CHECK-NEXT:    %[[CTX:.*]] = rt.ctx : !llvm.ptr
// CHECK-NEXT:    llvm.cond_br %c, ^[[FAIL:.*]], ^[[CONT:.*]]
// CHECK-NEXT:  ^[[FAIL]]:
// CHECK-NEXT:    %[[CODE:.*]] = llvm.getelementptr %[[CTX]][0, 1]
// CHECK-NEXT:    %[[OLD:.*]] = llvm.load %[[CODE]] : !llvm.ptr -> i64
// CHECK-NEXT:    %[[ZERO:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %[[FIRST:.*]] = llvm.icmp "eq" %[[OLD]], %[[ZERO]] : i64
// CHECK-NEXT:    llvm.cond_br %[[FIRST]], ^[[RECORD:.*]], ^[[CONT]]
// CHECK-NEXT:  ^[[RECORD]]:
// CHECK-NEXT:    %[[THREE:.*]] = llvm.mlir.constant(3) : i64
// CHECK-NEXT:    llvm.store %[[THREE]], %[[CODE]] : i64, !llvm.ptr
// CHECK-NEXT:    %[[SEVEN:.*]] = llvm.mlir.constant(7) : i64
// CHECK-NEXT:    %[[A:.*]] = llvm.getelementptr %[[CTX]][0, 2]
// CHECK-NEXT:    llvm.store %[[SEVEN]], %[[A]] : i64, !llvm.ptr
// CHECK-NEXT:    llvm.br ^[[CONT]]
// CHECK-NEXT:  ^[[CONT]]:
// CHECK-NEXT:    llvm.cond_br %d, ^{{.*}}, ^{{.*}}
// CHECK:         llvm.getelementptr %[[CTX]][0, 1]
// CHECK:         llvm.mlir.constant(2) : i64
// CHECK:         func.return

// rt.no_error reads the recorded error code.

func.func @no_error() -> i1 {
  %ok = rt.no_error
  func.return %ok : i1
}

// CHECK-LABEL: func.func @no_error() -> i1 {
// CHECK-NEXT:    %{{.*}} = rt.ctx : !llvm.ptr
// CHECK-NEXT:    %[[P:.*]] = llvm.getelementptr %{{.*}}[0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(!llvm.ptr, i64, i64, i64, i64)>
// CHECK-NEXT:    %[[C:.*]] = llvm.load %[[P]] : !llvm.ptr -> i64
// CHECK-NEXT:    %[[Z:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %[[OK:.*]] = llvm.icmp "eq" %[[C]], %[[Z]] : i64
// CHECK-NEXT:    func.return %[[OK]] : i1
