// RUN: cofactor-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The verifier checks operand and result counts against the activities and
// width, and rejects reverse-mode activities.

func.func private @g(f64) -> f64

func.func @missing_shadow(%x: f64) -> f64 {
  %r = ad.fwddiff @g(%x) {activity = [#ad<activity dup>], ret_activity = [#ad<activity dupnoneed>]} : (f64) -> f64
  func.return %r : f64
}

// CHECK: ad.fwddiff: 1 activities need 2 operands, got 1

// -----

func.func private @g(f64) -> f64

func.func @reverse_activity(%x: f64) -> f64 {
  %r = ad.fwddiff @g(%x) {activity = [#ad<activity active>], ret_activity = [#ad<activity dupnoneed>]} : (f64) -> f64
  func.return %r : f64
}

// CHECK: ad.fwddiff: activity active is reverse-mode only

// -----

func.func private @g(f64) -> f64

func.func @wrong_results(%x: f64, %dx: f64) -> f64 {
  %r = ad.fwddiff @g(%x, %dx) {activity = [#ad<activity dup>], ret_activity = [#ad<activity dup>]} : (f64, f64) -> f64
  func.return %r : f64
}

// CHECK: ad.fwddiff: ret_activity ['dup'] needs 2 results, got 1
