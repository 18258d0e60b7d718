// RUN: cofactor-opt %s | cofactor-opt | filecheck %s
// RUN: cofactor-opt %s --print-op-generic | cofactor-opt | filecheck %s

func.func @checks(%i: i64, %n: i64, %c: i1) -> i1 {
  %ok = rt.check_index %i, %n {axis = 1 : i64} : i64
  rt.raise_if %c {code = 3 : i64, info = 7 : i64}
  %ctx = rt.ctx : !llvm.ptr
  func.return %ok : i1
}

// CHECK:      func.func @checks(%i: i64, %n: i64, %c: i1) -> i1 {
// CHECK-NEXT:   %ok = rt.check_index %i, %n {axis = 1 : i64} : i64
// CHECK-NEXT:   rt.raise_if %c {code = 3 : i64, info = 7 : i64}
// CHECK-NEXT:   %ctx = rt.ctx : !llvm.ptr
// CHECK-NEXT:   func.return %ok : i1
