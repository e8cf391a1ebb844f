//! EER per attack and per condition, as the ASVspoof evaluation packages break pooled results
//! down: each attack's spoofs against all bona fide trials (pooled bona fide), and each condition's
//! bona fide against the same condition's spoofs.
//!
//! Called by `dpda eval --breakdown`.

use std::collections::BTreeMap;

use super::eer::{eer, Eer};
use super::MetricError;

/// The EER of one group (an attack or a condition) and its trial counts.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupEer {
    pub name: String,
    pub n_bonafide: usize,
    pub n_spoof: usize,
    /// `None` when the group lacks bona fide or spoof trials.
    pub eer: Option<Eer>,
}

/// EER of each group, given each group's bona fide and spoof scores; groups are returned in name
/// order. For a per-attack breakdown pass the pooled bona fide scores with every attack.
pub fn eer_by_group(
    groups: &BTreeMap<String, (Vec<f64>, Vec<f64>)>,
) -> Result<Vec<GroupEer>, MetricError> {
    let mut out = Vec::with_capacity(groups.len());
    for (name, (bonafide, spoof)) in groups {
        let eer = if bonafide.is_empty() || spoof.is_empty() {
            None
        } else {
            Some(eer(bonafide, spoof)?)
        };
        out.push(GroupEer {
            name: name.clone(),
            n_bonafide: bonafide.len(),
            n_spoof: spoof.len(),
            eer,
        });
    }
    Ok(out)
}

/// Per-attack groups: every attack's spoof scores with the pooled bona fide scores. `trials` are
/// `(score, is_bonafide, attack)`; spoofs without an attack name are grouped under `"-"`.
pub fn attack_groups<'a>(
    trials: impl IntoIterator<Item = (f64, bool, Option<&'a str>)>,
) -> BTreeMap<String, (Vec<f64>, Vec<f64>)> {
    let mut bonafide = Vec::new();
    let mut spoof_by_attack: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (score, is_bonafide, attack) in trials {
        if is_bonafide {
            bonafide.push(score);
        } else {
            spoof_by_attack
                .entry(attack.unwrap_or("-").to_string())
                .or_default()
                .push(score);
        }
    }
    spoof_by_attack
        .into_iter()
        .map(|(name, spoof)| (name, (bonafide.clone(), spoof)))
        .collect()
}

/// Per-condition groups: bona fide and spoof scores of each condition; trials without a
/// condition are left out.
pub fn condition_groups<'a>(
    trials: impl IntoIterator<Item = (f64, bool, Option<&'a str>)>,
) -> BTreeMap<String, (Vec<f64>, Vec<f64>)> {
    let mut groups: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (score, is_bonafide, condition) in trials {
        if let Some(c) = condition {
            let g = groups.entry(c.to_string()).or_default();
            if is_bonafide {
                g.0.push(score);
            } else {
                g.1.push(score);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacks_share_the_pooled_bonafide() {
        let trials = [
            (1.0, true, None),
            (0.9, true, None),
            (0.0, false, Some("A01")),
            (0.95, false, Some("A02")),
        ];
        let groups = attack_groups(trials);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups["A01"].0, [1.0, 0.9]);
        let res = eer_by_group(&groups).unwrap();
        assert_eq!(res[0].name, "A01");
        assert_eq!(res[0].eer.unwrap().eer, 0.0);
        // A02's spoof sits between the bona fide scores: EER = eer() on the same scores.
        assert_eq!(res[1].eer, Some(eer(&[1.0, 0.9], &[0.95]).unwrap()));
    }

    #[test]
    fn condition_without_spoofs_has_no_eer() {
        let groups = condition_groups([(1.0, true, Some("C1")), (0.0, false, Some("C2"))]);
        let res = eer_by_group(&groups).unwrap();
        assert!(res.iter().all(|g| g.eer.is_none()));
        assert_eq!((res[0].n_bonafide, res[1].n_spoof), (1, 1));
    }
}
