// RUN: cofactor-opt %s -p lower-arith-to-llvm | filecheck %s

func.func @constants() -> (i64, index, f64, f32, i1, i1) {
  %a = arith.constant -7 : i64
  %b = arith.constant 3 : index
  %c = arith.constant 2.5 : f64
  %d = arith.constant 0.5 : f32
  %e = arith.constant true
  %f = arith.constant false
  func.return %a, %b, %c, %d, %e, %f : i64, index, f64, f32, i1, i1
}

// CHECK-LABEL: func.func @constants()
// CHECK-NEXT:    %a = llvm.mlir.constant(-7) : i64
// CHECK-NEXT:    %b = llvm.mlir.constant(3) : i64
// CHECK-NEXT:    %[[B:.*]] = builtin.unrealized_conversion_cast %b : i64 to index
// CHECK-NEXT:    %c = llvm.mlir.constant(2.500000e+00 : f64) : f64
// CHECK-NEXT:    %d = llvm.mlir.constant(5.000000e-01 : f32) : f32
// CHECK-NEXT:    %e = llvm.mlir.constant(true) : i1
// CHECK-NEXT:    %f = llvm.mlir.constant(false) : i1
// CHECK-NEXT:    func.return %a, %[[B]], %c, %d, %e, %f : i64, index, f64, f32, i1, i1

func.func @float_ops(%x: f64, %y: f64) -> f64 {
  %0 = arith.addf %x, %y : f64
  %1 = arith.subf %0, %y : f64
  %2 = arith.mulf %1, %y fastmath<fast> : f64
  %3 = arith.divf %2, %y fastmath<nnan,ninf> : f64
  %4 = arith.negf %3 : f64
  %5 = arith.minimumf %4, %x : f64
  %6 = arith.maximumf %5, %x : f64
  %7 = arith.minnumf %6, %x : f64
  %8 = arith.maxnumf %7, %x : f64
  func.return %8 : f64
}

// CHECK-LABEL: func.func @float_ops(%x: f64, %y: f64) -> f64
// CHECK-NEXT:    %0 = llvm.fadd %x, %y : f64
// CHECK-NEXT:    %1 = llvm.fsub %0, %y : f64
// CHECK-NEXT:    %2 = llvm.fmul %1, %y {fastmathFlags = #llvm.fastmath<fast>} : f64
// CHECK-NEXT:    %3 = llvm.fdiv %2, %y {fastmathFlags = #llvm.fastmath<nnan,ninf>} : f64
// CHECK-NEXT:    %4 = llvm.fneg %3 : f64
// CHECK-NEXT:    %5 = llvm.call_intrinsic "llvm.minimum.f64"(%4, %x) : (f64, f64) -> f64
// CHECK-NEXT:    %6 = llvm.call_intrinsic "llvm.maximum.f64"(%5, %x) : (f64, f64) -> f64
// CHECK-NEXT:    %7 = llvm.call_intrinsic "llvm.minnum.f64"(%6, %x) : (f64, f64) -> f64
// CHECK-NEXT:    %8 = llvm.call_intrinsic "llvm.maxnum.f64"(%7, %x) : (f64, f64) -> f64
// CHECK-NEXT:    func.return %8 : f64

func.func @int_ops(%a: i64, %b: i64) -> i64 {
  %0 = arith.addi %a, %b : i64
  %1 = arith.subi %0, %b overflow<nsw> : i64
  %2 = arith.muli %1, %b : i64
  %3 = arith.andi %2, %b : i64
  %4 = arith.ori %3, %b : i64
  %5 = arith.xori %4, %b : i64
  %6 = arith.shli %5, %b : i64
  %7 = arith.shrsi %6, %b : i64
  %8 = arith.shrui %7, %b : i64
  %9 = arith.minsi %8, %b : i64
  %10 = arith.maxsi %9, %b : i64
  func.return %10 : i64
}

// CHECK-LABEL: func.func @int_ops(%a: i64, %b: i64) -> i64
// CHECK-NEXT:    %0 = llvm.add %a, %b : i64
// CHECK-NEXT:    %1 = llvm.sub %0, %b overflow<nsw> : i64
// CHECK-NEXT:    %2 = llvm.mul %1, %b : i64
// CHECK-NEXT:    %3 = llvm.and %2, %b : i64
// CHECK-NEXT:    %4 = llvm.or %3, %b : i64
// CHECK-NEXT:    %5 = llvm.xor %4, %b : i64
// CHECK-NEXT:    %6 = llvm.shl %5, %b : i64
// CHECK-NEXT:    %7 = llvm.ashr %6, %b : i64
// CHECK-NEXT:    %8 = llvm.lshr %7, %b : i64
// CHECK-NEXT:    %9 = llvm.call_intrinsic "llvm.smin.i64"(%8, %b) : (i64, i64) -> i64
// CHECK-NEXT:    %10 = llvm.call_intrinsic "llvm.smax.i64"(%9, %b) : (i64, i64) -> i64
// CHECK-NEXT:    func.return %10 : i64

func.func @divsi(%a: i64, %b: i64) -> i64 {
  %q = arith.divsi %a, %b : i64
  func.return %q : i64
}

// CHECK-LABEL: func.func @divsi(%a: i64, %b: i64) -> i64
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[M1:.*]] = llvm.mlir.constant(-1) : i64
// CHECK-NEXT:    %[[IS_M1:.*]] = llvm.icmp "eq" %b, %[[M1]] : i64
// CHECK-NEXT:    %[[DIVISOR:.*]] = llvm.select %[[IS_M1]], %[[ONE]], %b : i1, i64
// CHECK-NEXT:    %[[ZERO:.*]] = llvm.mlir.constant(0) : i64
// CHECK-NEXT:    %[[QUOT:.*]] = llvm.sdiv %a, %[[DIVISOR]] : i64
// CHECK-NEXT:    %[[NEG:.*]] = llvm.sub %[[ZERO]], %[[QUOT]] : i64
// CHECK-NEXT:    %[[Q:.*]] = llvm.select %[[IS_M1]], %[[NEG]], %[[QUOT]] : i1, i64
// CHECK-NEXT:    func.return %[[Q]] : i64

func.func @remsi(%a: i64, %b: i64) -> i64 {
  %r = arith.remsi %a, %b : i64
  func.return %r : i64
}

// CHECK-LABEL: func.func @remsi(%a: i64, %b: i64) -> i64
// CHECK-NEXT:    %[[ONE:.*]] = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[M1:.*]] = llvm.mlir.constant(-1) : i64
// CHECK-NEXT:    %[[IS_M1:.*]] = llvm.icmp "eq" %b, %[[M1]] : i64
// CHECK-NEXT:    %[[DIVISOR:.*]] = llvm.select %[[IS_M1]], %[[ONE]], %b : i1, i64
// CHECK-NEXT:    %[[R:.*]] = llvm.srem %a, %[[DIVISOR]] : i64
// CHECK-NEXT:    func.return %[[R]] : i64

func.func @floordivsi(%a: i64, %b: i64) -> i64 {
  %q = arith.floordivsi %a, %b : i64
  func.return %q : i64
}

// CHECK-LABEL: func.func @floordivsi(%a: i64, %b: i64) -> i64
// CHECK:         %[[DIVISOR:.*]] = llvm.select %{{.*}}, %{{.*}}, %b : i1, i64
// CHECK-NEXT:    %[[ZERO:.*]] = llvm.mlir.constant(0) : i64
// CHECK:         %[[TRUNC:.*]] = llvm.select
// CHECK-NEXT:    %[[REM:.*]] = llvm.srem %a, %[[DIVISOR]] : i64
// CHECK-NEXT:    %[[INEXACT:.*]] = llvm.icmp "ne" %[[REM]], %[[ZERO]] : i64
// CHECK-NEXT:    %[[SIGNS:.*]] = llvm.xor %[[REM]], %b : i64
// CHECK-NEXT:    %[[OPPOSITE:.*]] = llvm.icmp "slt" %[[SIGNS]], %[[ZERO]] : i64
// CHECK-NEXT:    %[[ADJ:.*]] = llvm.and %[[INEXACT]], %[[OPPOSITE]] : i1
// CHECK-NEXT:    %[[STEP:.*]] = llvm.zext %[[ADJ]] : i1 to i64
// CHECK-NEXT:    %[[Q:.*]] = llvm.sub %[[TRUNC]], %[[STEP]] : i64
// CHECK-NEXT:    func.return %[[Q]] : i64

func.func @ceildivsi(%a: i64, %b: i64) -> i64 {
  %q = arith.ceildivsi %a, %b : i64
  func.return %q : i64
}

// CHECK-LABEL: func.func @ceildivsi(%a: i64, %b: i64) -> i64
// CHECK:         llvm.sdiv
// CHECK-NEXT:    llvm.sub
// CHECK-NEXT:    %[[TRUNC:.*]] = llvm.select
// CHECK-NEXT:    llvm.srem
// CHECK-NEXT:    llvm.icmp "ne"
// CHECK-NEXT:    llvm.xor
// CHECK-NEXT:    llvm.icmp "sge"
// CHECK-NEXT:    llvm.and
// CHECK-NEXT:    %[[STEP:.*]] = llvm.zext
// CHECK-NEXT:    %[[Q:.*]] = llvm.add %[[TRUNC]], %[[STEP]] : i64
// CHECK-NEXT:    func.return %[[Q]] : i64

func.func @compare(%a: i64, %b: i64, %x: f64, %y: f64) {
  %0 = arith.cmpi eq, %a, %b : i64
  %1 = arith.cmpi ne, %a, %b : i64
  %2 = arith.cmpi slt, %a, %b : i64
  %3 = arith.cmpi sle, %a, %b : i64
  %4 = arith.cmpi sgt, %a, %b : i64
  %5 = arith.cmpi sge, %a, %b : i64
  %6 = arith.cmpi ult, %a, %b : i64
  %7 = arith.cmpi ule, %a, %b : i64
  %8 = arith.cmpi ugt, %a, %b : i64
  %9 = arith.cmpi uge, %a, %b : i64
  %10 = arith.cmpf false, %x, %y : f64
  %11 = arith.cmpf oeq, %x, %y : f64
  %12 = arith.cmpf ogt, %x, %y : f64
  %13 = arith.cmpf oge, %x, %y : f64
  %14 = arith.cmpf olt, %x, %y : f64
  %15 = arith.cmpf ole, %x, %y : f64
  %16 = arith.cmpf one, %x, %y : f64
  %17 = arith.cmpf ord, %x, %y : f64
  %18 = arith.cmpf ueq, %x, %y : f64
  %19 = arith.cmpf ugt, %x, %y : f64
  %20 = arith.cmpf uge, %x, %y : f64
  %21 = arith.cmpf ult, %x, %y : f64
  %22 = arith.cmpf ule, %x, %y : f64
  %23 = arith.cmpf une, %x, %y : f64
  %24 = arith.cmpf uno, %x, %y : f64
  %25 = arith.cmpf true, %x, %y : f64
  %26 = arith.select %25, %a, %b : i64
  func.return
}

// CHECK-LABEL: func.func @compare(%a: i64, %b: i64, %x: f64, %y: f64)
// CHECK-NEXT:    %0 = llvm.icmp "eq" %a, %b : i64
// CHECK-NEXT:    %1 = llvm.icmp "ne" %a, %b : i64
// CHECK-NEXT:    %2 = llvm.icmp "slt" %a, %b : i64
// CHECK-NEXT:    %3 = llvm.icmp "sle" %a, %b : i64
// CHECK-NEXT:    %4 = llvm.icmp "sgt" %a, %b : i64
// CHECK-NEXT:    %5 = llvm.icmp "sge" %a, %b : i64
// CHECK-NEXT:    %6 = llvm.icmp "ult" %a, %b : i64
// CHECK-NEXT:    %7 = llvm.icmp "ule" %a, %b : i64
// CHECK-NEXT:    %8 = llvm.icmp "ugt" %a, %b : i64
// CHECK-NEXT:    %9 = llvm.icmp "uge" %a, %b : i64
// CHECK-NEXT:    %10 = llvm.mlir.constant(false) : i1
// CHECK-NEXT:    %11 = llvm.fcmp "oeq" %x, %y : f64
// CHECK-NEXT:    %12 = llvm.fcmp "ogt" %x, %y : f64
// CHECK-NEXT:    %13 = llvm.fcmp "oge" %x, %y : f64
// CHECK-NEXT:    %14 = llvm.fcmp "olt" %x, %y : f64
// CHECK-NEXT:    %15 = llvm.fcmp "ole" %x, %y : f64
// CHECK-NEXT:    %16 = llvm.fcmp "one" %x, %y : f64
// CHECK-NEXT:    %17 = llvm.fcmp "ord" %x, %y : f64
// CHECK-NEXT:    %18 = llvm.fcmp "ueq" %x, %y : f64
// CHECK-NEXT:    %19 = llvm.fcmp "ugt" %x, %y : f64
// CHECK-NEXT:    %20 = llvm.fcmp "uge" %x, %y : f64
// CHECK-NEXT:    %21 = llvm.fcmp "ult" %x, %y : f64
// CHECK-NEXT:    %22 = llvm.fcmp "ule" %x, %y : f64
// CHECK-NEXT:    %23 = llvm.fcmp "une" %x, %y : f64
// CHECK-NEXT:    %24 = llvm.fcmp "uno" %x, %y : f64
// CHECK-NEXT:    %25 = llvm.mlir.constant(true) : i1
// CHECK-NEXT:    %26 = llvm.select %25, %a, %b : i1, i64
// CHECK-NEXT:    func.return

func.func @casts(%a: i64, %n: i32, %x: f64, %s: f32, %c: i1) -> (f64, i64, f64, f32, i64, i64, i32, f64, i64, i32) {
  %0 = arith.sitofp %a : i64 to f64
  %1 = arith.fptosi %x : f64 to i64
  %2 = arith.extf %s : f32 to f64
  %3 = arith.truncf %x : f64 to f32
  %4 = arith.extui %c : i1 to i64
  %5 = arith.extsi %n : i32 to i64
  %6 = arith.trunci %a : i64 to i32
  %7 = arith.bitcast %a : i64 to f64
  %8 = arith.fptosi %s : f32 to i64
  %9 = arith.fptosi %x : f64 to i32
  func.return %0, %1, %2, %3, %4, %5, %6, %7, %8, %9 : f64, i64, f64, f32, i64, i64, i32, f64, i64, i32
}

// CHECK-LABEL: func.func @casts(
// CHECK-NEXT:    %0 = llvm.sitofp %a : i64 to f64
// CHECK-NEXT:    %1 = llvm.call_intrinsic "llvm.fptosi.sat.i64.f64"(%x) : (f64) -> i64
// CHECK-NEXT:    %2 = llvm.fpext %s : f32 to f64
// CHECK-NEXT:    %3 = llvm.fptrunc %x : f64 to f32
// CHECK-NEXT:    %4 = llvm.zext %c : i1 to i64
// CHECK-NEXT:    %5 = llvm.sext %n : i32 to i64
// CHECK-NEXT:    %6 = llvm.trunc %a : i64 to i32
// CHECK-NEXT:    %7 = llvm.bitcast %a : i64 to f64
// CHECK-NEXT:    %8 = llvm.call_intrinsic "llvm.fptosi.sat.i64.f32"(%s) : (f32) -> i64
// CHECK-NEXT:    %9 = llvm.call_intrinsic "llvm.fptosi.sat.i32.f64"(%x) : (f64) -> i32
// CHECK-NEXT:    func.return

// index values from unlowered ops (here a block argument) enter through a
// cast to i64, and index results leave through a cast back for unlowered users.
func.func @index_boundary(%i: index, %a: i64, %n: i32) -> (index, i64, i32, index) {
  %c1 = arith.constant 1 : index
  %j = arith.addi %i, %c1 : index
  %k = arith.index_cast %j : index to i64
  %s = arith.addi %k, %a : i64
  %t = arith.index_cast %j : index to i32
  %u = arith.index_cast %n : i32 to index
  %m = arith.index_cast %a : i64 to index
  %v = arith.addi %m, %u : index
  func.return %j, %s, %t, %v : index, i64, i32, index
}

// CHECK-LABEL: func.func @index_boundary(%i: index, %a: i64, %n: i32) -> (index, i64, i32, index)
// CHECK-NEXT:    %c1 = llvm.mlir.constant(1) : i64
// CHECK-NEXT:    %[[I:.*]] = builtin.unrealized_conversion_cast %i : index to i64
// CHECK-NEXT:    %[[J:.*]] = llvm.add %[[I]], %c1 : i64
// CHECK-NEXT:    %[[J_INDEX:.*]] = builtin.unrealized_conversion_cast %[[J]] : i64 to index
// CHECK-NEXT:    %s = llvm.add %[[J]], %a : i64
// CHECK-NEXT:    %t = llvm.trunc %[[J]] : i64 to i32
// CHECK-NEXT:    %u = llvm.sext %n : i32 to i64
// CHECK-NEXT:    %[[V:.*]] = llvm.add %a, %u : i64
// CHECK-NEXT:    %[[V_INDEX:.*]] = builtin.unrealized_conversion_cast %[[V]] : i64 to index
// CHECK-NEXT:    func.return %[[J_INDEX]], %s, %t, %[[V_INDEX]] : index, i64, i32, index
// CHECK-NEXT:  }
