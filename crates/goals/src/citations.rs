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
