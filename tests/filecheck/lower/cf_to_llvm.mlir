// RUN: cofactor-opt %s -p lower-cf-to-llvm | filecheck %s

func.func @branches(%c: i1, %a: i64, %x: f64) -> i64 {
  cf.cond_br %c, ^then(%a, %x : i64, f64), ^else
^then(%p: i64, %q: f64):
  cf.br ^join(%p : i64)
^else:
  cf.cond_br %c, ^join(%a : i64), ^empty
^empty:
  cf.br ^join(%a : i64)
^join(%r: i64):
  func.return %r : i64
}

// CHECK-LABEL: func.func @branches(%c: i1, %a: i64, %x: f64) -> i64 {
// CHECK-NEXT:    llvm.cond_br %c, ^then(%a, %x : i64, f64), ^else
// CHECK-NEXT:  ^then(%p: i64, %q: f64):
// CHECK-NEXT:    llvm.br ^join(%p : i64)
// CHECK-NEXT:  ^else:
// CHECK-NEXT:    llvm.cond_br %c, ^join(%a : i64), ^empty
// CHECK-NEXT:  ^empty:
// CHECK-NEXT:    llvm.br ^join(%a : i64)
// CHECK-NEXT:  ^join(%r: i64):
// CHECK-NEXT:    func.return %r : i64
// CHECK-NEXT:  }
