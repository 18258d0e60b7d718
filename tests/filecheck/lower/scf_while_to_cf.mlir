// RUN: cofactor-opt %s -p lower-scf-while-to-cf | filecheck %s
// RUN: cofactor-opt %s -p lower-scf-while-to-cf,convert-scf-to-cf | filecheck %s --check-prefix=ALL

// Two loop-carried values, two results; the ops after the loop use both.
func.func @collatz(%n: i64) -> (i64, i64) {
  %zero = arith.constant 0 : i64
  %r:2 = scf.while (%x = %n, %steps = %zero) : (i64, i64) -> (i64, i64) {
    %one = arith.constant 1 : i64
    %more = arith.cmpi sgt, %x, %one : i64
    scf.condition(%more) %x, %steps : i64, i64
  } do {
  ^bb0(%y: i64, %s: i64):
    %one = arith.constant 1 : i64
    %s1 = arith.addi %s, %one : i64
    scf.yield %y, %s1 : i64, i64
  }
  %sum = arith.addi %r#0, %r#1 : i64
  func.return %sum, %r#1 : i64, i64
}

// CHECK-LABEL: func.func @collatz(%n: i64) -> (i64, i64) {
// CHECK-NEXT:    %zero = arith.constant 0 : i64
// CHECK-NEXT:    cf.br ^bb1(%n, %zero : i64, i64)
// CHECK-NEXT:  ^bb1(%x: i64, %steps: i64):
// CHECK-NEXT:    %one = arith.constant 1 : i64
// CHECK-NEXT:    %more = arith.cmpi sgt, %x, %one : i64
// CHECK-NEXT:    cf.cond_br %more, ^bb2(%x, %steps : i64, i64), ^bb3(%x, %steps : i64, i64)
// CHECK-NEXT:  ^bb2(%y: i64, %s: i64):
// CHECK-NEXT:    %one_1 = arith.constant 1 : i64
// CHECK-NEXT:    %s1 = arith.addi %s, %one_1 : i64
// CHECK-NEXT:    cf.br ^bb1(%y, %s1 : i64, i64)
// CHECK-NEXT:  ^bb3(%r: i64, %r_1: i64):
// CHECK-NEXT:    %sum = arith.addi %r, %r_1 : i64
// CHECK-NEXT:    func.return %sum, %r_1 : i64, i64
// CHECK-NEXT:  }

// The condition passes values other than the before-region arguments.
func.func @condition_values(%n: i64) -> i64 {
  %r = scf.while (%x = %n) : (i64) -> i64 {
    %one = arith.constant 1 : i64
    %y = arith.subi %x, %one : i64
    %more = arith.cmpi sgt, %y, %one : i64
    scf.condition(%more) %y : i64
  } do {
  ^bb0(%z: i64):
    scf.yield %z : i64
  }
  func.return %r : i64
}

// CHECK-LABEL: func.func @condition_values(%n: i64) -> i64 {
// CHECK-NEXT:    cf.br ^bb1(%n : i64)
// CHECK-NEXT:  ^bb1(%x: i64):
// CHECK-NEXT:    %one = arith.constant 1 : i64
// CHECK-NEXT:    %y = arith.subi %x, %one : i64
// CHECK-NEXT:    %more = arith.cmpi sgt, %y, %one : i64
// CHECK-NEXT:    cf.cond_br %more, ^bb2(%y : i64), ^bb3(%y : i64)
// CHECK-NEXT:  ^bb2(%z: i64):
// CHECK-NEXT:    cf.br ^bb1(%z : i64)
// CHECK-NEXT:  ^bb3(%r: i64):
// CHECK-NEXT:    func.return %r : i64
// CHECK-NEXT:  }

// No loop-carried values at all.
func.func @no_values(%c: i1) {
  scf.while () : () -> () {
    scf.condition(%c)
  } do {
    scf.yield
  }
  func.return
}

// CHECK-LABEL: func.func @no_values(%c: i1) {
// CHECK-NEXT:    cf.br ^bb1
// CHECK-NEXT:  ^bb1:
// CHECK-NEXT:    cf.cond_br %c, ^bb2, ^bb3
// CHECK-NEXT:  ^bb2:
// CHECK-NEXT:    cf.br ^bb1
// CHECK-NEXT:  ^bb3:
// CHECK-NEXT:    func.return
// CHECK-NEXT:  }

// A while in the after region of a while: inner blocks sit inside the outer loop.
func.func @nested_while(%n: i64) -> i64 {
  %r = scf.while (%x = %n) : (i64) -> i64 {
    %zero = arith.constant 0 : i64
    %more = arith.cmpi sgt, %x, %zero : i64
    scf.condition(%more) %x : i64
  } do {
  ^bb0(%y: i64):
    %inner = scf.while (%z = %y) : (i64) -> i64 {
      %ten = arith.constant 10 : i64
      %big = arith.cmpi sgt, %z, %ten : i64
      scf.condition(%big) %z : i64
    } do {
    ^bb1(%w: i64):
      %two = arith.constant 2 : i64
      %h = arith.divsi %w, %two : i64
      scf.yield %h : i64
    }
    %one = arith.constant 1 : i64
    %next = arith.subi %inner, %one : i64
    scf.yield %next : i64
  }
  func.return %r : i64
}

// CHECK-LABEL: func.func @nested_while(%n: i64) -> i64 {
// CHECK-NEXT:    cf.br ^bb1(%n : i64)
// CHECK-NEXT:  ^bb1(%x: i64):
// CHECK:         cf.cond_br %more, ^bb2(%x : i64), ^bb6(%x : i64)
// CHECK-NEXT:  ^bb2(%y: i64):
// CHECK-NEXT:    cf.br ^bb3(%y : i64)
// CHECK-NEXT:  ^bb3(%z: i64):
// CHECK:         cf.cond_br %big, ^bb4(%z : i64), ^bb5(%z : i64)
// CHECK-NEXT:  ^bb4(%w: i64):
// CHECK:         cf.br ^bb3(%h : i64)
// CHECK-NEXT:  ^bb5(%inner: i64):
// CHECK:         %next = arith.subi %inner, %one : i64
// CHECK-NEXT:    cf.br ^bb1(%next : i64)
// CHECK-NEXT:  ^bb6(%r: i64):
// CHECK-NEXT:    func.return %r : i64
// CHECK-NEXT:  }

// A while inside scf.if inside scf.for (i64 bounds, iter_args): the enclosing
// for and if are lowered as well, so the IR verifies after this pass alone.
func.func @while_in_for(%n: i64, %c: i1) -> i64 {
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %c0) -> (i64) : i64 {
    %v = scf.if %c -> (i64) {
      %w = scf.while (%x = %i) : (i64) -> i64 {
        %k = arith.cmpi sgt, %x, %c0 : i64
        scf.condition(%k) %x : i64
      } do {
      ^bb0(%y: i64):
        %y1 = arith.subi %y, %c1 : i64
        scf.yield %y1 : i64
      }
      scf.yield %w : i64
    } else {
      scf.yield %i : i64
    }
    %a = arith.addi %acc, %v : i64
    scf.yield %a : i64
  }
  func.return %s : i64
}

// CHECK-LABEL: func.func @while_in_for(%n: i64, %c: i1) -> i64 {
// CHECK-NOT:     scf.
// CHECK:         func.return

// A while beside an scf.if that holds none stays structured.
func.func @if_without_while(%c: i1, %n: i64) -> i64 {
  %v = scf.if %c -> (i64) {
    scf.yield %n : i64
  } else {
    %w = scf.while (%x = %n) : (i64) -> i64 {
      scf.condition(%c) %x : i64
    } do {
    ^bb0(%y: i64):
      scf.yield %y : i64
    }
    scf.yield %w : i64
  }
  %u = scf.if %c -> (i64) {
    scf.yield %v : i64
  } else {
    scf.yield %n : i64
  }
  func.return %u : i64
}

// CHECK-LABEL: func.func @if_without_while(%c: i1, %n: i64) -> i64 {
// CHECK-NOT:     scf.while
// CHECK:         %u = scf.if %c -> (i64) {

// ALL-NOT: scf.
