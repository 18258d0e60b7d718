// RUN: cofactor-opt %s -p ad-forward | filecheck %s
// RUN: cofactor-opt %s -p ad-forward | filecheck %s --check-prefix=ONCE

// A call of a function with a body calls its derivative, made once per
// activity pattern; a C library call (fmod) is differentiated by its table
// entry.

func.func private @fmod(f64, f64) -> f64

func.func @helper(%x: f64, %k: f64) -> f64 {
  %p = arith.mulf %x, %k : f64
  %e = math.exp %p : f64
  func.return %e : f64
}

func.func @caller(%x: f64, %y: f64) -> f64 {
  %k = arith.constant 0.5 : f64
  %a = func.call @helper(%x, %k) : (f64, f64) -> f64
  %b = func.call @helper(%a, %y) : (f64, f64) -> f64
  %m = func.call @fmod(%b, %y) : (f64, f64) -> f64
  func.return %m : f64
}

func.func @request(%x: f64, %dx: f64, %y: f64, %dy: f64) -> (f64, f64) {
  %r = ad.fwddiff @caller(%x, %dx, %y) {activity = [#ad<activity dup>, #ad<activity const>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64, f64) -> f64
  %s = ad.fwddiff @caller(%x, %dx, %y, %dy) {activity = [#ad<activity dup>, #ad<activity dup>], ret_activity = [#ad<activity dupnoneed>]} : (f64, f64, f64, f64) -> f64
  func.return %r, %s : f64, f64
}

// CHECK-LABEL: func.func private @fwddiff_helper_dd_d(%x: f64, %dx: f64, %k: f64, %dk: f64) -> (f64, f64) {
// CHECK-NEXT:    %p = arith.mulf %x, %k : f64
// CHECK-NEXT:    %0 = arith.mulf %k, %dx : f64
// CHECK-NEXT:    %1 = arith.mulf %x, %dk : f64
// CHECK-NEXT:    %dp = arith.addf %0, %1 : f64
// CHECK-NEXT:    %e = math.exp %p : f64
// CHECK-NEXT:    %2 = arith.mulf %e, %dp : f64
// CHECK-NEXT:    %3 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %4 = arith.cmpf oeq, %dp, %3 : f64
// CHECK-NEXT:    %de = arith.select %4, %3, %2 : f64
// CHECK-NEXT:    func.return %e, %de : f64, f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func private @fwddiff_helper_dc_d(%x: f64, %dx: f64, %k: f64) -> (f64, f64) {
// CHECK-NEXT:    %p = arith.mulf %x, %k : f64
// CHECK-NEXT:    %dp = arith.mulf %k, %dx : f64
// CHECK-NEXT:    %e = math.exp %p : f64
// CHECK-NEXT:    %0 = arith.mulf %e, %dp : f64
// CHECK-NEXT:    %1 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %2 = arith.cmpf oeq, %dp, %1 : f64
// CHECK-NEXT:    %de = arith.select %2, %1, %0 : f64
// CHECK-NEXT:    func.return %e, %de : f64, f64
// CHECK-NEXT:  }

// y dup: the second call needs @helper with k dup too; fmod's partial by y
// is -trunc(b / y).
// CHECK-LABEL: func.func private @fwddiff_caller_dd_n(%x: f64, %dx: f64, %y: f64, %dy: f64) -> f64 {
// CHECK-NEXT:    %k = arith.constant 5.000000e-01 : f64
// CHECK-NEXT:    %a, %da = func.call @fwddiff_helper_dc_d(%x, %dx, %k) : (f64, f64, f64) -> (f64, f64)
// CHECK-NEXT:    %b, %db = func.call @fwddiff_helper_dd_d(%a, %da, %y, %dy) : (f64, f64, f64, f64) -> (f64, f64)
// CHECK-NEXT:    %m = func.call @fmod(%b, %y) : (f64, f64) -> f64
// CHECK-NEXT:    %0 = arith.divf %b, %y : f64
// CHECK-NEXT:    %1 = math.trunc %0 : f64
// CHECK-NEXT:    %2 = arith.negf %1 : f64
// CHECK-NEXT:    %3 = arith.mulf %2, %dy : f64
// CHECK-NEXT:    %4 = arith.constant 0.000000e+00 : f64
// CHECK-NEXT:    %5 = arith.cmpf oeq, %dy, %4 : f64
// CHECK-NEXT:    %6 = arith.select %5, %4, %3 : f64
// CHECK-NEXT:    %dm = arith.addf %db, %6 : f64
// CHECK-NEXT:    func.return %dm : f64
// CHECK-NEXT:  }

// y const: both calls share @fwddiff_helper_dc_d, made once; fmod's partial
// by b is 1, so %db passes through.
// CHECK-LABEL: func.func private @fwddiff_caller_dc_n(%x: f64, %dx: f64, %y: f64) -> f64 {
// CHECK-NEXT:    %k = arith.constant 5.000000e-01 : f64
// CHECK-NEXT:    %a, %da = func.call @fwddiff_helper_dc_d(%x, %dx, %k) : (f64, f64, f64) -> (f64, f64)
// CHECK-NEXT:    %b, %db = func.call @fwddiff_helper_dc_d(%a, %da, %y) : (f64, f64, f64) -> (f64, f64)
// CHECK-NEXT:    %m = func.call @fmod(%b, %y) : (f64, f64) -> f64
// CHECK-NEXT:    func.return %db : f64
// CHECK-NEXT:  }

// CHECK-LABEL: func.func @request(
// CHECK-NEXT:    %r = func.call @fwddiff_caller_dc_n(%x, %dx, %y) : (f64, f64, f64) -> f64
// CHECK-NEXT:    %s = func.call @fwddiff_caller_dd_n(%x, %dx, %y, %dy) : (f64, f64, f64, f64) -> f64

// Each derivative is made once, however many calls and requests need it
// (a leaf function given shadow arrays gets one per call site instead).
// ONCE-COUNT-1: func.func private @fwddiff_helper_dc_d(
// ONCE-NOT:     func.func private @fwddiff_helper_dc_d(
