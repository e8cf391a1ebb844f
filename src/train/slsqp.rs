//! CAGrad's simplex weight found the way the DPDA reference code finds it: scipy's SLSQP, followed
//! step by step for this one small problem. [`super::align`] calls it when the CAGrad solver is
//! `"reference"`; the default solver there minimises the same objective exactly.
//!
//! dpda_ga's `grad_align/cagrad.py` minimises `f(x) = xᵀA b + c′·√(xᵀA x + 1e-8)` (A the 2×2 Gram
//! matrix of the two gradients, `b = (½, ½)`) over `x ∈ [0, 1]²` with `x₀ + x₁ = 1`, calling
//! `scipy.optimize.minimize` from `x = (½, ½)` with nothing but the bounds and the equality
//! constraint. That is SLSQP with its defaults: `ftol` (`acc`) 1e-6, at most 100 iterations,
//! forward-difference gradients with the absolute step √ε ≈ 1.49e-8 (backwards where the forward
//! point would leave the bounds), the constraint's Jacobian by the same differences. Its iteration
//! (Kraft's SLSQP as in scipy's `slsqp` sources: the Fortran of scipy ≤ 1.15 and its C translation
//! in 1.16+) is, for this problem:
//!
//! 1. Solve the quadratic subproblem `min ½ sᵀB s + gᵀs` subject to `C s = −d` (the linearised
//!    equality, `d = 1 − (x₀ + x₁)`) and `0 ≤ x + s ≤ 1`; `B` starts as the identity. With two
//!    variables and one equality the feasible steps form a segment, so the subproblem is a convex
//!    1-D quadratic on an interval and is solved in closed form here (scipy reaches the same point
//!    through LSEI/LDP/NNLS). Its equality multiplier λ comes from the stationarity of the free
//!    coordinate.
//! 2. Stop where it stands if `|gᵀs| + |λ|·|d| < acc` and `|d| < acc`. For gradients of norm
//!    ≲ 1e-2 the Gram entries are ≲ 1e-4 and `|gᵀs| < 1e-6` already at the start: the weight stays
//!    at ½ — the behaviour that decides the reference's CAGrad for small gradients.
//! 3. Otherwise a line search on the L1 merit `f + μ|d|` (μ from the multipliers): the full step,
//!    then at most 10 shrinkings by `α = max(D/(2(D − Δ)), 0.1)` (D the merit's directional
//!    derivative along the current step, Δ the change of the merit it gave) until `Δ ≤ D/10`.
//!    Stop if `|f − f₀| < acc` (or `‖s‖ < acc`) with `|d| < acc`.
//! 4. Otherwise a damped BFGS update of `B` (Powell's damping at 0.2) with the change in the
//!    gradient of the Lagrangian, and back to 1. A non-descent direction resets `B` to the
//!    identity (after 5 resets the run ends with the relaxed test against 10·acc).
//!
//! Checked against scipy 1.17.1 on the objective exactly as cagrad.py writes it
//! (`scripts/cagrad_slsqp_reference.py`, gradient scales 1e-4 … 10): on the 168 fixture cases the
//! weights agree to 7e-8 with the same iteration counts; on 6,000 random cases to 4e-7 (and to
//! 2e-7 against scipy 1.15.3's Fortran SLSQP), every case that stays at ½ exactly, the iteration
//! counts in all but 5. The differences come from the order of the roundings inside numpy's
//! products and scipy's least-squares solver, amplified by the finite differences.

/// scipy's `ftol` default: SLSQP's `acc`.
const ACC: f64 = 1e-6;

/// scipy's `maxiter` default.
const MAX_ITERATIONS: u32 = 100;

/// The finite-difference step: scipy's `_epsilon = sqrt(finfo(float).eps)`.
const FD_STEP: f64 = 1.490_116_119_384_765_6e-8;

/// How many times the quasi-Newton matrix may be reset before SLSQP gives up (its `reset > 5`).
const MAX_RESETS: u32 = 5;

/// How an SLSQP run on CAGrad's problem ended (scipy's exit modes that this problem can reach).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlsqpExit {
    /// Exit mode 0, "Optimization terminated successfully".
    Converged,
    /// Exit mode 8, "Positive directional derivative for linesearch": the quasi-Newton matrix
    /// was reset five times without a descent direction.
    PositiveDirectionalDerivative,
    /// Exit mode 9, "Iteration limit reached".
    IterationLimit,
    /// Exit mode 4, "Inconsistent constraints": the linearised constraint has no step within the
    /// bounds. scipy would go on with an augmented subproblem; this never happens from the
    /// reference's start point (the constraint is linear) and the run stops where it is.
    Inconsistent,
}

/// The point SLSQP returns, as dpda_ga receives it in `res.x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlsqpOutcome {
    /// `x = (w, 1 − w)` up to rounding: the weights of the original and the augmented gradient.
    pub x: [f64; 2],
    /// Major iterations (scipy's `nit`).
    pub iterations: u32,
    /// Why it stopped.
    pub exit: SlsqpExit,
}

/// CAGrad's objective exactly as cagrad.py's `objfn` evaluates it: `x·A` as a row vector, then
/// `·b` and `·x` (numpy widens the float32 Gram matrix to f64).
fn objective(gram: &[[f64; 2]; 2], c: f64, x: [f64; 2]) -> f64 {
    let r0 = x[0] * gram[0][0] + x[1] * gram[1][0];
    let r1 = x[0] * gram[0][1] + x[1] * gram[1][1];
    let xab = r0 * 0.5 + r1 * 0.5;
    let xax = r0 * x[0] + r1 * x[1];
    xab + c * (xax + 1e-8).sqrt()
}

/// The reference's equality constraint `1 - sum(x)` (Python's `sum` starts from 0).
fn constraint(x: [f64; 2]) -> f64 {
    1.0 - (x[0] + x[1])
}

/// scipy's 2-point difference with an absolute step inside the bounds `[0, 1]`: the step is
/// reversed where the forward point would leave them, and divided by the step as represented.
fn forward_difference(fun: impl Fn([f64; 2]) -> f64, x: [f64; 2], fx: f64) -> [f64; 2] {
    let mut grad = [0.0; 2];
    for i in 0..2 {
        let forward = x[i] + FD_STEP;
        let h = if (0.0..=1.0).contains(&forward) {
            FD_STEP
        } else {
            -FD_STEP
        };
        let mut shifted = x;
        shifted[i] = x[i] + h;
        let dx = shifted[i] - x[i];
        grad[i] = (fun(shifted) - fx) / dx;
    }
    grad
}

fn mat_vec(m: &[[f64; 2]; 2], v: [f64; 2]) -> [f64; 2] {
    [
        m[0][0] * v[0] + m[0][1] * v[1],
        m[1][0] * v[0] + m[1][1] * v[1],
    ]
}

fn dot(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

/// The step and the equality multiplier of SLSQP's quadratic subproblem
/// `min ½ sᵀB s + gᵀs` s.t. `C·s = −d`, `lower ≤ s ≤ upper`; `None` when no step satisfies both.
///
/// The feasible steps are `s = s_p + t·z` (`s_p` the shortest solution of the equality, `z ⊥ C`)
/// with `t` in an interval; the convex quadratic in `t` is minimised and clipped to it.
fn subproblem(
    b: &[[f64; 2]; 2],
    g: [f64; 2],
    c: [f64; 2],
    d: f64,
    lower: [f64; 2],
    upper: [f64; 2],
) -> Option<([f64; 2], f64)> {
    let z = [c[1], -c[0]];
    let cc = dot(c, c);
    let sp = [-d * c[0] / cc, -d * c[1] / cc];
    let bsp = mat_vec(b, sp);
    let bz = mat_vec(b, z);
    let curvature = dot(z, bz);
    if !(curvature > 0.0 && cc > 0.0) {
        return None;
    }
    let mut t = -dot(z, [bsp[0] + g[0], bsp[1] + g[1]]) / curvature;
    let (mut t_lo, mut t_hi) = (f64::NEG_INFINITY, f64::INFINITY);
    let (mut lo_from, mut hi_from) = (0, 0);
    for i in 0..2 {
        let (mut a, mut e) = ((lower[i] - sp[i]) / z[i], (upper[i] - sp[i]) / z[i]);
        if z[i] < 0.0 {
            std::mem::swap(&mut a, &mut e);
        }
        if a > t_lo {
            (t_lo, lo_from) = (a, i);
        }
        if e < t_hi {
            (t_hi, hi_from) = (e, i);
        }
    }
    // The bounds only ever replace ±∞ by numbers, never by NaN.
    if t_lo > t_hi {
        return None;
    }
    let mut active = None;
    if t < t_lo {
        (t, active) = (t_lo, Some(lo_from));
    } else if t > t_hi {
        (t, active) = (t_hi, Some(hi_from));
    }
    // As scipy's LSQ does, the step is finally clamped to its bounds (rounding).
    let s = [
        (sp[0] + t * z[0]).clamp(lower[0], upper[0]),
        (sp[1] + t * z[1]).clamp(lower[1], upper[1]),
    ];
    // Stationarity B s + g = Cᵀλ (+ bound multipliers on active coordinates).
    let r = mat_vec(b, s);
    let r = [r[0] + g[0], r[1] + g[1]];
    let lambda = match active {
        None => dot(c, r) / cc,
        Some(i) => r[1 - i] / c[1 - i],
    };
    Some((s, lambda))
}

/// Minimises cagrad.py's objective for the Gram matrix `gram` and its scalar `c` (`c′`) the way
/// `scipy.optimize.minimize(objfn, [0.5, 0.5], bounds=((0, 1), (0, 1)), constraints=sum = 1)`
/// does; see the module documentation.
pub fn cagrad_slsqp(gram: [[f64; 2]; 2], c: f64) -> SlsqpOutcome {
    let fun = |x: [f64; 2]| objective(&gram, c, x);
    let mut x = [0.5, 0.5];
    let mut f = fun(x);
    let mut g = forward_difference(fun, x, f);
    let mut d = constraint(x);
    let mut jac = forward_difference(constraint, x, d);
    let mut iterations = 0;
    let mut resets = 0;
    let mut mu = 0.0f64;
    let mut f0 = f;
    let mut s = [0.0f64; 2];
    let outcome = |x, iterations, exit| SlsqpOutcome {
        x,
        iterations,
        exit,
    };
    loop {
        // (Re)start the quasi-Newton matrix at the identity.
        resets += 1;
        if resets > MAX_RESETS {
            let relaxed = 10.0 * ACC;
            let small_change = (f - f0).abs() < relaxed || s[0].hypot(s[1]) < relaxed;
            let exit = if small_change && d.abs() < relaxed && !f.is_nan() {
                SlsqpExit::Converged
            } else {
                SlsqpExit::PositiveDirectionalDerivative
            };
            return outcome(x, iterations, exit);
        }
        let mut b = [[1.0, 0.0], [0.0, 1.0]];
        loop {
            if iterations >= MAX_ITERATIONS {
                return outcome(x, iterations, SlsqpExit::IterationLimit);
            }
            iterations += 1;
            let lower = [0.0 - x[0], 0.0 - x[1]];
            let upper = [1.0 - x[0], 1.0 - x[1]];
            let Some((step, lambda)) = subproblem(&b, g, jac, d, lower, upper) else {
                return outcome(x, iterations, SlsqpExit::Inconsistent);
            };
            s = step;
            // Gradient of the Lagrangian at the current point.
            let lagrangian = [g[0] - jac[0] * lambda, g[1] - jac[1] * lambda];
            f0 = f;
            let x0 = x;
            let gs = dot(g, s);
            // The L1 penalty weight: at least |λ|, and it decreases only halfway.
            mu = lambda.abs().max(0.5 * (mu + lambda.abs()));
            if gs.abs() + lambda.abs() * d.abs() < ACC && d.abs() < ACC && !f.is_nan() {
                return outcome(x, iterations, SlsqpExit::Converged);
            }
            let penalty = mu * d.abs();
            let merit0 = f + penalty;
            let mut slope = gs - penalty;
            if slope >= 0.0 {
                break; // not a descent direction: reset the matrix
            }
            // Line search on the L1 merit function.
            let mut alpha = 1.0;
            let mut line = 0;
            loop {
                line += 1;
                slope *= alpha;
                s = [alpha * s[0], alpha * s[1]];
                x = [x0[0] + s[0], x0[1] + s[1]];
                f = fun(x);
                d = constraint(x);
                let decrease = f + mu * d.abs() - merit0;
                if decrease <= slope / 10.0 || line > 10 {
                    break;
                }
                alpha = (slope / (2.0 * (slope - decrease))).max(0.1);
            }
            let small_change = (f - f0).abs() < ACC || s[0].hypot(s[1]) < ACC;
            if small_change && d.abs() < ACC && !f.is_nan() {
                return outcome(x, iterations, SlsqpExit::Converged);
            }
            g = forward_difference(fun, x, f);
            jac = forward_difference(constraint, x, d);
            // Damped BFGS update with the change of the Lagrangian's gradient (same λ).
            let mut u = [
                g[0] - jac[0] * lambda - lagrangian[0],
                g[1] - jac[1] * lambda - lagrangian[1],
            ];
            let v = mat_vec(&b, s);
            let mut su = dot(s, u);
            let sbs = dot(s, v);
            let floor = 0.2 * sbs;
            if su < floor {
                let theta = (sbs - floor) / (sbs - su);
                su = floor;
                u = [
                    theta * u[0] + (1.0 - theta) * v[0],
                    theta * u[1] + (1.0 - theta) * v[1],
                ];
            }
            if su == 0.0 || sbs == 0.0 {
                break; // singular update: reset the matrix
            }
            for (i, row) in b.iter_mut().enumerate() {
                for (j, entry) in row.iter_mut().enumerate() {
                    *entry += u[i] * u[j] / su - v[i] * v[j] / sbs;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_step_is_scipys_epsilon() {
        assert_eq!(FD_STEP, f64::EPSILON.sqrt());
    }

    /// `scripts/cagrad_slsqp_reference.py`: scipy's SLSQP on cagrad.py's objective.
    #[derive(serde::Deserialize)]
    struct Fixture {
        gram_cases: Vec<GramCase>,
    }

    /// The Gram matrix and `c` are float32 values in the reference: read as `f32` they are exact
    /// (serde_json's default `f64` parsing may be one unit in the last place off, which the
    /// finite differences would amplify).
    #[derive(serde::Deserialize)]
    struct GramCase {
        gram: [[f32; 2]; 2],
        c: f32,
        x: [f64; 2],
        nit: u32,
        status: i32,
    }

    impl GramCase {
        fn inputs(&self) -> ([[f64; 2]; 2], f64) {
            let g = self.gram.map(|row| row.map(f64::from));
            (g, f64::from(self.c))
        }
    }

    fn fixture() -> Fixture {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/optim/cagrad_slsqp.json"
        ));
        serde_json::from_str(text).unwrap_or_else(|e| panic!("cagrad_slsqp.json: {e}"))
    }

    #[test]
    fn follows_scipy_slsqp_over_gradient_scales() {
        let fixture = fixture();
        assert!(fixture.gram_cases.len() >= 100);
        let mut worst = 0.0f64;
        for case in &fixture.gram_cases {
            let (gram, c) = case.inputs();
            let out = cagrad_slsqp(gram, c);
            for k in 0..2 {
                let err = (out.x[k] - case.x[k]).abs();
                worst = worst.max(err);
                assert!(
                    err < 1e-6,
                    "Gram {:?}, c {}: x {:?} vs scipy {:?}",
                    case.gram,
                    case.c,
                    out.x,
                    case.x
                );
            }
            assert_eq!(out.iterations, case.nit, "Gram {:?}", case.gram);
            assert_eq!(case.status, 0);
            assert_eq!(out.exit, SlsqpExit::Converged);
        }
        // Measured: 6.7e-8 (roundings inside numpy's products, through the differences).
        assert!(worst < 2e-7, "worst difference {worst}");
    }

    #[test]
    fn small_gradients_leave_the_weight_at_one_half() {
        // Gradients of norm 1e-3 and 3e-3 in conflict: the exact weight is an end of the segment,
        // SLSQP stops in its first iteration where it started.
        let (n1, n2, cos) = (1e-3f64, 3e-3f64, -0.6f64);
        let gram = [[n1 * n1, cos * n1 * n2], [cos * n1 * n2, n2 * n2]];
        let mean = (gram[0][0] + 2.0 * gram[0][1] + gram[1][1]) / 4.0;
        let c = 0.5 * (mean + 1e-8).sqrt() + 1e-8;
        let out = cagrad_slsqp(gram, c);
        assert_eq!(out.x, [0.5, 0.5]);
        assert_eq!(out.iterations, 1);
        assert_eq!(out.exit, SlsqpExit::Converged);
    }

    #[test]
    fn large_gradients_reach_the_minimum_of_the_objective() {
        let (n1, n2, cos) = (2.0f64, 2.2f64, -0.3f64);
        let gram = [[n1 * n1, cos * n1 * n2], [cos * n1 * n2, n2 * n2]];
        let c = 0.5 * ((gram[0][0] + 2.0 * gram[0][1] + gram[1][1]) / 4.0 + 1e-8).sqrt() + 1e-8;
        let out = cagrad_slsqp(gram, c);
        let f = |w: f64| objective(&gram, c, [w, 1.0 - w]);
        let best = (0..=100_000)
            .map(|i| f64::from(i) / 100_000.0)
            .min_by(|a, b| f(*a).total_cmp(&f(*b)))
            .unwrap_or(0.5);
        assert!(out.x[0] > 0.0 && out.x[0] < 1.0);
        // SLSQP stops once f changes by less than 1e-6: close to, not at, the minimiser.
        assert!((out.x[0] - best).abs() < 5e-3, "{:?} vs {best}", out.x);
        assert!(f(out.x[0]) - f(best) < 1e-5);
        assert!((out.x[0] + out.x[1] - 1.0).abs() < 1e-12);
    }
}
