// RUN: cofactor-opt %s | cofactor-opt | filecheck %s

func.func @axpy(%a: f64, %x: memref<?xf64, strided<[?], offset: ?>>, %i: index) -> f64 {
  %v = memref.load %x[%i] : memref<?xf64, strided<[?], offset: ?>>
  %r = arith.mulf %a, %v : f64
  func.return %r : f64
}

// CHECK:      func.func @axpy(%a: f64, %x: memref<?xf64, strided<[?], offset: ?>>, %i: index) -> f64 {
// CHECK-NEXT:   %v = memref.load %x[%i] : memref<?xf64, strided<[?], offset: ?>>
// CHECK-NEXT:   %r = arith.mulf %a, %v : f64
// CHECK-NEXT:   func.return %r : f64
