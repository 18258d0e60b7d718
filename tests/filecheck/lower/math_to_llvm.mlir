// RUN: cofactor-opt %s -p lower-math-to-llvm | filecheck %s

func.func @intrinsics(%x: f64, %y: f64, %z: f64) -> f64 {
  %0 = math.sqrt %x : f64
  %1 = math.sin %0 : f64
  %2 = math.cos %1 : f64
  %3 = math.exp %2 : f64
  %4 = math.exp2 %3 : f64
  %5 = math.log %4 : f64
  %6 = math.log2 %5 : f64
  %7 = math.log10 %6 : f64
  %8 = math.absf %7 : f64
  %9 = math.floor %8 : f64
  %10 = math.ceil %9 : f64
  %11 = math.trunc %10 : f64
  %12 = math.round %11 : f64
  %13 = math.roundeven %12 : f64
  %14 = math.copysign %13, %y : f64
  %15 = math.powf %14, %y fastmath<fast> : f64
  %16 = math.fma %15, %y, %z : f64
  func.return %16 : f64
}

// CHECK-LABEL: func.func @intrinsics(%x: f64, %y: f64, %z: f64) -> f64
// CHECK-NEXT:    %0 = llvm.call_intrinsic "llvm.sqrt.f64"(%x) : (f64) -> f64
// CHECK-NEXT:    %1 = llvm.call_intrinsic "llvm.sin.f64"(%0) : (f64) -> f64
// CHECK-NEXT:    %2 = llvm.call_intrinsic "llvm.cos.f64"(%1) : (f64) -> f64
// CHECK-NEXT:    %3 = llvm.call_intrinsic "llvm.exp.f64"(%2) : (f64) -> f64
// CHECK-NEXT:    %4 = llvm.call_intrinsic "llvm.exp2.f64"(%3) : (f64) -> f64
// CHECK-NEXT:    %5 = llvm.call_intrinsic "llvm.log.f64"(%4) : (f64) -> f64
// CHECK-NEXT:    %6 = llvm.call_intrinsic "llvm.log2.f64"(%5) : (f64) -> f64
// CHECK-NEXT:    %7 = llvm.call_intrinsic "llvm.log10.f64"(%6) : (f64) -> f64
// CHECK-NEXT:    %8 = llvm.call_intrinsic "llvm.fabs.f64"(%7) : (f64) -> f64
// CHECK-NEXT:    %9 = llvm.call_intrinsic "llvm.floor.f64"(%8) : (f64) -> f64
// CHECK-NEXT:    %10 = llvm.call_intrinsic "llvm.ceil.f64"(%9) : (f64) -> f64
// CHECK-NEXT:    %11 = llvm.call_intrinsic "llvm.trunc.f64"(%10) : (f64) -> f64
// CHECK-NEXT:    %12 = llvm.call_intrinsic "llvm.round.f64"(%11) : (f64) -> f64
// CHECK-NEXT:    %13 = llvm.call_intrinsic "llvm.roundeven.f64"(%12) : (f64) -> f64
// CHECK-NEXT:    %14 = llvm.call_intrinsic "llvm.copysign.f64"(%13, %y) : (f64, f64) -> f64
// CHECK-NEXT:    %15 = llvm.call_intrinsic "llvm.pow.f64"(%14, %y) : (f64, f64) -> f64
// CHECK-NEXT:    %16 = llvm.call_intrinsic "llvm.fma.f64"(%15, %y, %z) : (f64, f64, f64) -> f64
// CHECK-NEXT:    func.return %16 : f64

// f32 gets f32 intrinsics next to f64 ones in the same module.
func.func @intrinsics_f32(%s: f32) -> f32 {
  %0 = math.sqrt %s : f32
  func.return %0 : f32
}

// CHECK-LABEL: func.func @intrinsics_f32(%s: f32) -> f32
// CHECK-NEXT:    %0 = llvm.call_intrinsic "llvm.sqrt.f32"(%s) : (f32) -> f32

func.func @powers(%x: f64, %n: i64, %m: i32) -> (f64, f64, f64) {
  %0 = math.fpowi %x, %n : f64, i64
  %1 = math.fpowi %x, %m : f64, i32
  %2 = math.rsqrt %x : f64
  func.return %0, %1, %2 : f64, f64, f64
}

// CHECK-LABEL: func.func @powers(%x: f64, %n: i64, %m: i32) -> (f64, f64, f64)
// CHECK-NEXT:    %[[N:.*]] = llvm.sitofp %n : i64 to f64
// CHECK-NEXT:    %[[P0:.*]] = llvm.call_intrinsic "llvm.pow.f64"(%x, %[[N]]) : (f64, f64) -> f64
// CHECK-NEXT:    %[[M:.*]] = llvm.sitofp %m : i32 to f64
// CHECK-NEXT:    %[[P1:.*]] = llvm.call_intrinsic "llvm.pow.f64"(%x, %[[M]]) : (f64, f64) -> f64
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1.000000e+00 : f64) : f64
// CHECK-NEXT:    %[[ROOT:.*]] = llvm.call_intrinsic "llvm.sqrt.f64"(%x) : (f64) -> f64
// CHECK-NEXT:    %[[R:.*]] = llvm.fdiv %[[ONE]], %[[ROOT]] : f64
// CHECK-NEXT:    func.return %[[P0]], %[[P1]], %[[R]] : f64, f64, f64

func.func @integers(%a: i64, %b: i64, %i: index) -> (i64, i64, i64, i64, i64, index) {
  %0 = math.absi %a : i64
  %1 = math.ctlz %a : i64
  %2 = math.cttz %a : i64
  %3 = math.ctpop %a : i64
  %4 = math.ipowi %a, %b : i64
  %5 = math.absi %i : index
  func.return %0, %1, %2, %3, %4, %5 : i64, i64, i64, i64, i64, index
}

// CHECK-LABEL: func.func @integers(%a: i64, %b: i64, %i: index) -> (i64, i64, i64, i64, i64, index)
// CHECK-NEXT:    %[[F0:.*]] = llvm.mlir.constant(false) : i1
// CHECK-NEXT:    %[[ABS:.*]] = llvm.call_intrinsic "llvm.abs.i64"(%a, %[[F0]]) : (i64, i1) -> i64
// CHECK-NEXT:    %[[F1:.*]] = llvm.mlir.constant(false) : i1
// CHECK-NEXT:    %[[CTLZ:.*]] = llvm.call_intrinsic "llvm.ctlz.i64"(%a, %[[F1]]) : (i64, i1) -> i64
// CHECK-NEXT:    %[[F2:.*]] = llvm.mlir.constant(false) : i1
// CHECK-NEXT:    %[[CTTZ:.*]] = llvm.call_intrinsic "llvm.cttz.i64"(%a, %[[F2]]) : (i64, i1) -> i64
// CHECK-NEXT:    %[[POP:.*]] = llvm.call_intrinsic "llvm.ctpop.i64"(%a) : (i64) -> i64
// CHECK-NEXT:    %[[POW:.*]] = llvm.call @cofactor_ipowi_i64(%a, %b) : (i64, i64) -> i64
// CHECK-NEXT:    %[[I:.*]] = builtin.unrealized_conversion_cast %i : index to i64
// CHECK-NEXT:    %[[F3:.*]] = llvm.mlir.constant(false) : i1
// CHECK-NEXT:    %[[ABSI:.*]] = llvm.call_intrinsic "llvm.abs.i64"(%[[I]], %[[F3]]) : (i64, i1) -> i64
// CHECK-NEXT:    %[[ABSI_INDEX:.*]] = builtin.unrealized_conversion_cast %[[ABSI]] : i64 to index
// CHECK-NEXT:    func.return %[[ABS]], %[[CTLZ]], %[[CTTZ]], %[[POP]], %[[POW]], %[[ABSI_INDEX]]

func.func @libm(%x: f64, %y: f64, %s: f32, %t: f32) -> (f64, f32) {
  %0 = math.tan %x : f64
  %1 = math.tanh %0 : f64
  %2 = math.sinh %1 : f64
  %3 = math.cosh %2 : f64
  %4 = math.asin %3 : f64
  %5 = math.acos %4 : f64
  %6 = math.atan %5 : f64
  %7 = math.atan2 %6, %y : f64
  %8 = math.asinh %7 : f64
  %9 = math.acosh %8 : f64
  %10 = math.atanh %9 : f64
  %11 = math.expm1 %10 : f64
  %12 = math.log1p %11 : f64
  %13 = math.erf %12 : f64
  %14 = math.cbrt %13 fastmath<afn> : f64
  %15 = math.tan %14 : f64
  %16 = math.tan %s : f32
  %17 = math.atan2 %16, %t : f32
  func.return %15, %17 : f64, f32
}

// CHECK-LABEL: func.func @libm(%x: f64, %y: f64, %s: f32, %t: f32) -> (f64, f32)
// CHECK-NEXT:    %0 = llvm.call @tan(%x) : (f64) -> f64
// CHECK-NEXT:    %1 = llvm.call @tanh(%0) : (f64) -> f64
// CHECK-NEXT:    %2 = llvm.call @sinh(%1) : (f64) -> f64
// CHECK-NEXT:    %3 = llvm.call @cosh(%2) : (f64) -> f64
// CHECK-NEXT:    %4 = llvm.call @asin(%3) : (f64) -> f64
// CHECK-NEXT:    %5 = llvm.call @acos(%4) : (f64) -> f64
// CHECK-NEXT:    %6 = llvm.call @atan(%5) : (f64) -> f64
// CHECK-NEXT:    %7 = llvm.call @atan2(%6, %y) : (f64, f64) -> f64
// CHECK-NEXT:    %8 = llvm.call @asinh(%7) : (f64) -> f64
// CHECK-NEXT:    %9 = llvm.call @acosh(%8) : (f64) -> f64
// CHECK-NEXT:    %10 = llvm.call @atanh(%9) : (f64) -> f64
// CHECK-NEXT:    %11 = llvm.call @expm1(%10) : (f64) -> f64
// CHECK-NEXT:    %12 = llvm.call @log1p(%11) : (f64) -> f64
// CHECK-NEXT:    %13 = llvm.call @erf(%12) : (f64) -> f64
// CHECK-NEXT:    %14 = llvm.call @cbrt(%13) {fastmathFlags = #llvm.fastmath<afn>} : (f64) -> f64
// CHECK-NEXT:    %15 = llvm.call @tan(%14) : (f64) -> f64
// CHECK-NEXT:    %16 = llvm.call @tanf(%s) : (f32) -> f32
// CHECK-NEXT:    %17 = llvm.call @atan2f(%16, %t) : (f32, f32) -> f32
// CHECK-NEXT:    func.return %15, %17 : f64, f32

// A symbol the module already has (here a frontend declaration) is used as it is.
func.func private @erfc(f64) -> f64

// The ipowi helper and the libm declarations come once each, in order of first use.
// CHECK:       func.func private @erfc(f64) -> f64
// CHECK-NEXT:  llvm.func internal @cofactor_ipowi_i64(%0: i64, %1: i64) -> i64 {
// CHECK-NEXT:    %2 = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %3 = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %4 = llvm.mlir.constant(-1) : i64
// CHECK-NEXT:    %5 = llvm.icmp "slt" %1, %2 : i64
// CHECK-NEXT:    llvm.cond_br %5, ^bb3, ^bb1(%3, %0, %1 : i64, i64, i64)
// CHECK-NEXT:  ^bb1(%6: i64, %7: i64, %8: i64):
// CHECK-NEXT:    %9 = llvm.icmp "eq" %8, %2 : i64
// CHECK-NEXT:    llvm.cond_br %9, ^bb4(%6 : i64), ^bb2
// CHECK-NEXT:  ^bb2:
// CHECK-NEXT:    %10 = llvm.and %8, %3 : i64
// CHECK-NEXT:    %11 = llvm.icmp "ne" %10, %2 : i64
// CHECK-NEXT:    %12 = llvm.mul %6, %7 : i64
// CHECK-NEXT:    %13 = llvm.select %11, %12, %6 : i1, i64
// CHECK-NEXT:    %14 = llvm.mul %7, %7 : i64
// CHECK-NEXT:    %15 = llvm.lshr %8, %3 : i64
// CHECK-NEXT:    llvm.br ^bb1(%13, %14, %15 : i64, i64, i64)
// CHECK-NEXT:  ^bb3:
// CHECK-NEXT:    %16 = llvm.and %1, %3 : i64
// CHECK-NEXT:    %17 = llvm.icmp "ne" %16, %2 : i64
// CHECK-NEXT:    %18 = llvm.select %17, %4, %3 : i1, i64
// CHECK-NEXT:    %19 = llvm.icmp "eq" %0, %3 : i64
// CHECK-NEXT:    %20 = llvm.select %19, %3, %2 : i1, i64
// CHECK-NEXT:    %21 = llvm.icmp "eq" %0, %4 : i64
// CHECK-NEXT:    %22 = llvm.select %21, %18, %20 : i1, i64
// CHECK-NEXT:    llvm.br ^bb4(%22 : i64)
// CHECK-NEXT:  ^bb4(%23: i64):
// CHECK-NEXT:    llvm.return %23 : i64
// CHECK-NEXT:  }
// CHECK-NEXT:  llvm.func @tan(f64) -> f64
// CHECK-NEXT:  llvm.func @tanh(f64) -> f64
// CHECK-NEXT:  llvm.func @sinh(f64) -> f64
// CHECK-NEXT:  llvm.func @cosh(f64) -> f64
// CHECK-NEXT:  llvm.func @asin(f64) -> f64
// CHECK-NEXT:  llvm.func @acos(f64) -> f64
// CHECK-NEXT:  llvm.func @atan(f64) -> f64
// CHECK-NEXT:  llvm.func @atan2(f64, f64) -> f64
// CHECK-NEXT:  llvm.func @asinh(f64) -> f64
// CHECK-NEXT:  llvm.func @acosh(f64) -> f64
// CHECK-NEXT:  llvm.func @atanh(f64) -> f64
// CHECK-NEXT:  llvm.func @expm1(f64) -> f64
// CHECK-NEXT:  llvm.func @log1p(f64) -> f64
// CHECK-NEXT:  llvm.func @erf(f64) -> f64
// CHECK-NEXT:  llvm.func @cbrt(f64) -> f64
// CHECK-NEXT:  llvm.func @tanf(f32) -> f32
// CHECK-NEXT:  llvm.func @atan2f(f32, f32) -> f32
// CHECK-NEXT: }
