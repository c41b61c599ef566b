//! Citation keys recorded in [`crate::Goal::citation`]; the full references are in
//! `docs/goals.md`.

/// Adams et al., PLoS ONE 2013;8:e82901 and BMC Public Health 2017;17:286 (adaptive goals).
pub const ADAMS_2013: &str = "adams2013";
/// Tudor-Locke, Curr Cardiovasc Risk Rep 2010;4:271-276 (+3,000–4,000 steps ≈ 30 minutes).
pub const TUDOR_LOCKE_2010: &str = "tudorlocke2010";
/// Paluch et al., Lancet Public Health 2022;7:e219-e228 (steps and mortality, age plateaus).
pub const PALUCH_2022: &str = "paluch2022";
/// Tudor-Locke et al., Med Sci Sports Exerc 2008;40:S537-43 (step-defined activity levels).
pub const TUDOR_LOCKE_2008: &str = "tudorlocke2008";
/// ENGAGE trial, JAMA Cardiology 2021 (self-chosen goals set immediately).
pub const ENGAGE_2021: &str = "engage2021";

/// The full reference of a citation key, as `docs/goals.md` lists it, for a participant who wants
/// to read where their goal comes from; `None` for a key this version does not know.
pub fn reference(key: &str) -> Option<&'static str> {
    Some(match key {
        ADAMS_2013 => {
            "Adams MA, Sallis JF, Norman GJ, et al. An adaptive physical activity intervention for \
             overweight adults: a randomized controlled trial. PLoS ONE 2013;8:e82901."
        }
        TUDOR_LOCKE_2010 => {
            "Tudor-Locke C. Steps to better cardiovascular health: how many steps does it take to \
             achieve good health and how confident are we in this number? Curr Cardiovasc Risk Rep \
             2010;4:271-276."
        }
        PALUCH_2022 => {
            "Paluch AE, Bajpai S, Bassett DR, et al. Daily steps and all-cause mortality: a \
             meta-analysis of 15 international cohorts. Lancet Public Health 2022;7:e219-e228."
        }
        TUDOR_LOCKE_2008 => {
            "Tudor-Locke C, Hatano Y, Pangrazi RP, Kang M. Revisiting \"how many steps are \
             enough?\". Med Sci Sports Exerc 2008;40(7 Suppl):S537-43."
        }
        ENGAGE_2021 => {
            "Patel MS, et al. Effect of goal-setting approaches within a gamification intervention \
             to increase physical activity (ENGAGE). JAMA Cardiol 2021."
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_engine_records_has_a_reference() {
        for key in [ADAMS_2013, TUDOR_LOCKE_2010, PALUCH_2022, TUDOR_LOCKE_2008, ENGAGE_2021] {
            let reference = reference(key).unwrap_or_else(|| panic!("{key}"));
            assert!(reference.ends_with('.') && reference.len() > 40, "{key}: {reference}");
        }
        assert_eq!(reference("nobody2099"), None);
    }
}
