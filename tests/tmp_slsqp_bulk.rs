#[derive(serde::Deserialize)]
struct Case {
    gram: [[f64; 2]; 2],
    c: f64,
    x: [f64; 2],
    nit: u32,
    status: i32,
}
#[test]
fn bulk() {
    for file in ["/tmp/slsqp/bulk.json", "/tmp/slsqp/bulk_old.json"] {
        let cases: Vec<Case> =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let (mut worst, mut nit_diff, mut over, mut half_agree, mut half) = (0.0f64, 0, 0, 0, 0);
        let mut by_scale = std::collections::BTreeMap::new();
        for c in &cases {
            let out = dpda::train::slsqp::cagrad_slsqp(c.gram, c.c);
            let err = (out.x[0] - c.x[0]).abs().max((out.x[1] - c.x[1]).abs());
            worst = worst.max(err);
            if err > 1e-6 {
                over += 1;
            }
            if err > 3.5e-7 {
                println!(
                    "case {} err {err:e} rust {:?} it {} scipy {:?} nit {}",
                    cases.iter().position(|q| std::ptr::eq(q, c)).unwrap(),
                    out.x,
                    out.iterations,
                    c.x,
                    c.nit
                );
            }
            if out.iterations != c.nit {
                nit_diff += 1;
            }
            if c.x[0] == 0.5 {
                half += 1;
                if out.x[0] == 0.5 {
                    half_agree += 1;
                }
            }
            let decade = c.gram[0][0].sqrt().log10().floor() as i32;
            let e: &mut f64 = by_scale.entry(decade).or_insert(0.0);
            *e = e.max(err);
            let _ = c.status;
        }
        println!("{file}: n {} worst {worst:e} over1e-6 {over} nit_diff {nit_diff} half {half_agree}/{half} by decade {by_scale:?}", cases.len());
    }
}
