// RUN: cofactor-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The verifier checks operand and result counts against the activities, and
// the type of what a cache holds.

func.func private @g(f64) -> f64

func.func @missing_seed(%x: f64) -> (f64, f64) {
  %r:2 = ad.autodiff @g(%x) {activity = [#ad<activity active>], ret_activity = [#ad<activity active>]} : (f64) -> (f64, f64)
  func.return %r#0, %r#1 : f64, f64
}

// CHECK: ad.autodiff: activities ['active'] and ret_activity ['active'] need 2 operands, got 1

// -----

func.func private @g(f64) -> f64

func.func @missing_adjoint(%x: f64, %s: f64) {
  ad.autodiff @g(%x, %s) {activity = [#ad<activity active>], ret_activity = [#ad<activity activenoneed>]} : (f64, f64) -> ()
  func.return
}

// CHECK: ad.autodiff: activities ['active'] and ret_activity ['activenoneed'] need 1 results, got 0

// -----

func.func private @g(f64) -> f64

func.func @result_activity_as_argument(%x: f64, %s: f64) -> f64 {
  %r = ad.autodiff @g(%x, %s) {activity = [#ad<activity activenoneed>], ret_activity = [#ad<activity activenoneed>]} : (f64, f64) -> f64
  func.return %r : f64
}

// CHECK: ad.autodiff: activity activenoneed is not an argument activity

// -----

func.func @wrong_element(%n: i64) {
  %c = ad.init : !ad.cache<f64>
  "ad.push"(%c, %n) : (!ad.cache<f64>, i64) -> ()
  func.return
}

// CHECK: ad.push: pushes a i64 into a !ad.cache<f64>
