// RUN: cofactor-opt %s -p lower-func-to-llvm | filecheck %s

// A declaration keeps its C signature; a function with a body gains the
// leading ctx argument, passes it on to callees with a body, and returns
// several results as one struct. Block arguments are retyped and all
// unrealized casts are gone.

func.func private @fmod(f64, f64) -> f64

func.func private @pair(%x: memref<?xf64, strided<[?], offset: ?>>, %n: index, %a: f64) -> (f64, index) {
  %r = func.call @fmod(%a, %a) : (f64, f64) -> f64
  %c = rt.ctx : !llvm.ptr
  func.return %r, %n : f64, index
}

func.func @main(%x: memref<?xf64, strided<[?], offset: ?>>, %n: i64) -> memref<?xf64, strided<[?], offset: ?>> {
  %nn = builtin.unrealized_conversion_cast %n : i64 to index
  %a = arith.constant 1.5 : f64
  %r, %k = func.call @pair(%x, %nn, %a) : (memref<?xf64, strided<[?], offset: ?>>, index, f64) -> (f64, index)
  %k64 = builtin.unrealized_conversion_cast %k : index to i64
  %d = builtin.unrealized_conversion_cast %x : memref<?xf64, strided<[?], offset: ?>> to !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>
  %y = builtin.unrealized_conversion_cast %d : !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)> to memref<?xf64, strided<[?], offset: ?>>
  cf.br ^bb1(%y, %k : memref<?xf64, strided<[?], offset: ?>>, index)
^bb1(%z: memref<?xf64, strided<[?], offset: ?>>, %j: index):
  func.call @sink(%k64) : (i64) -> ()
  func.return %z : memref<?xf64, strided<[?], offset: ?>>
}

func.func @sink(%v: i64) {
  func.return
}

// CHECK:       llvm.func @fmod(f64, f64) -> f64
// CHECK-NEXT:  llvm.func internal @pair(%ctx: !llvm.ptr, %x: !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>, %n: i64, %a: f64) -> !llvm.struct<(f64, i64)> {
// CHECK-NEXT:    %r = llvm.call @fmod(%a, %a) : (f64, f64) -> f64
// CHECK-NEXT:    %[[U:.*]] = llvm.mlir.undef : !llvm.struct<(f64, i64)>
// CHECK-NEXT:    %[[S0:.*]] = llvm.insertvalue %r, %[[U]][0] : !llvm.struct<(f64, i64)>
// CHECK-NEXT:    %[[S1:.*]] = llvm.insertvalue %n, %[[S0]][1] : !llvm.struct<(f64, i64)>
// CHECK-NEXT:    llvm.return %[[S1]] : !llvm.struct<(f64, i64)>
// CHECK-NEXT:  }
// CHECK-NEXT:  llvm.func @main(%[[CTX:.*]]: !llvm.ptr, %[[X:.*]]: !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>, %[[N:.*]]: i64) -> !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)> {
// CHECK-NEXT:    %a{{.*}} = arith.constant 1.500000e+00 : f64
// CHECK-NEXT:    %[[P:.*]] = llvm.call @pair(%[[CTX]], %[[X]], %[[N]], %a{{.*}}) : (!llvm.ptr, !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>, i64, f64) -> !llvm.struct<(f64, i64)>
// CHECK-NEXT:    %r{{.*}} = llvm.extractvalue %[[P]][0] : !llvm.struct<(f64, i64)>
// CHECK-NEXT:    %[[K:.*]] = llvm.extractvalue %[[P]][1] : !llvm.struct<(f64, i64)>
// CHECK-NEXT:    cf.br ^bb1(%[[X]], %[[K]] : !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>, i64)
// CHECK-NEXT:  ^bb1(%z: !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>, %j: i64):
// CHECK-NEXT:    llvm.call @sink(%[[CTX]], %[[K]]) : (!llvm.ptr, i64) -> ()
// CHECK-NEXT:    llvm.return %z : !llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>
// CHECK-NEXT:  }
// CHECK-NEXT:  llvm.func @sink(%ctx{{.*}}: !llvm.ptr, %v: i64) {
// CHECK-NEXT:    llvm.return
// CHECK-NEXT:  }
// CHECK-NOT:   unrealized_conversion_cast
