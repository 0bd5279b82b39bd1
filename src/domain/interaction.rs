//! The login interaction as one state machine, without I/O.
//!
//! A login flow is always at one [`Step`], set by the server. A page accepts only a
//! flow at its own step ([`Step::accepts`]), and a flow moves on only through [`next`],
//! which judges every demand of the request against what holds *now*: who
//! authenticated and how ([`Authn`]), the account as the register and the officers
//! left it ([`AccountFacts`]), and whether consent is due. There is no other way to a
//! code: a page that is reached out of order finds the flow at another step, and a
//! flow that reaches [`Next::Done`] has had every demand checked again, however it got
//! there.
//!
//! The demands ([`Demands`]) come from the authorization request (OIDC Core §3.1.2.1):
//! - `prompt=login`: the password must have been presented in this flow;
//! - `max_age`: the citizen must have authenticated within it;
//! - `acr_values` or an essential `acr` claim: the level must be reached, with the
//!   second factor when the account can reach it, else `unmet_authentication_requirements`;
//! - `id_token_hint`: the citizen who authenticates must be the one it names.
//!
//! An account with a second factor presents it at every login (see
//! `authn::second_factor`); the rule is [`factor_verdict`], shared with that module.

use serde::{Deserialize, Serialize};

use super::acr::{AcrDemand, Amr, AssuranceLevel};

/// Where a login flow is. Each has one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The personal identification number and password.
    Password,
    /// A passkey, a TOTP code or a recovery code.
    SecondFactor,
    /// The citizen's consent to share the requested data with the client.
    Consent,
}

impl Step {
    /// Whether the page of `page` may act on a flow at `self`. Only its own step: a
    /// flow waiting for a password is never finished at the consent page.
    pub fn accepts(self, page: Step) -> bool {
        self == page
    }
}

/// What the authorization request demands of the login.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demands {
    /// `prompt=login`: a password presented in this very flow.
    #[serde(default)]
    pub reauthenticate: bool,
    /// `max_age`, in seconds.
    #[serde(default)]
    pub max_age: Option<i64>,
    #[serde(default)]
    pub acr: Option<AcrDemand>,
    /// The subject of a verified `id_token_hint`, as the client knows it.
    #[serde(default)]
    pub subject: Option<String>,
}

/// Who authenticated, and how: a login in progress in this flow, or a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authn {
    pub account_id: String,
    /// The subject the client would see for this account (pairwise or public).
    pub subject: String,
    /// OIDC `auth_time`, in seconds since the epoch.
    pub auth_time: i64,
    /// RFC 8176 methods presented.
    pub amr: Amr,
    /// The level these methods established, never above the account's current level.
    pub level: AssuranceLevel,
    /// Whether the password was presented in this flow (not only in an earlier login).
    pub password_in_flow: bool,
}

/// The account as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFacts {
    pub level: AssuranceLevel,
    /// An authenticator (TOTP, passkey) is bound to the account.
    pub has_factor: bool,
    /// The account is active and the register's citizen may sign in.
    pub eligible: bool,
}

/// What holds now, read by the caller for one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub authn: Option<Authn>,
    /// The account of `authn`; `None` without `authn` (or when it is gone).
    pub account: Option<AccountFacts>,
    /// Consent is due for this client and scope (never for citizen-idp's own pages).
    pub consent_due: bool,
}

/// Where the flow goes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The citizen must take this step, on its page.
    Step(Step),
    /// Every demand is met: issue the code (or return to citizen-idp's own page).
    Done,
    /// No page can help: end the flow with this error to the client.
    Refuse(Refusal),
}

/// Why a flow ends without a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request demands a level this account cannot reach
    /// (`unmet_authentication_requirements`).
    Unmet,
    /// The citizen who authenticated is not the one `id_token_hint` names
    /// (`login_required`: the client must start again for the right citizen).
    OtherCitizen,
    /// The account or its citizen may no longer sign in (`access_denied`).
    NotEligible,
}

/// What the second factor owes for an account (see `authn::second_factor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorVerdict {
    Satisfied,
    Needed,
    Unmet,
}

/// The second-factor rules: an account with a factor presents it at every login; a
/// demanded level is reached with the factor, or cannot be reached at all.
pub fn factor_verdict(
    account: AccountFacts,
    amr: &Amr,
    held: AssuranceLevel,
    demand: Option<AcrDemand>,
) -> FactorVerdict {
    let reachable = if account.has_factor {
        account.level
    } else {
        AssuranceLevel::Level1
    };
    if let Some(demand) = demand {
        if demand.min_level > reachable {
            return FactorVerdict::Unmet;
        }
        if held < demand.min_level {
            return FactorVerdict::Needed;
        }
    }
    if account.has_factor && !amr.has_second_factor() {
        return FactorVerdict::Needed;
    }
    FactorVerdict::Satisfied
}

/// The one judge of a flow: the step it must take next, or that it is done, or why it
/// must end. `now` is in seconds since the epoch.
pub fn next(demands: &Demands, facts: &Facts, now: i64) -> Next {
    let (Some(authn), Some(account)) = (&facts.authn, facts.account) else {
        return Next::Step(Step::Password);
    };
    if !account.eligible {
        return Next::Refuse(Refusal::NotEligible);
    }
    if demands.reauthenticate && !authn.password_in_flow {
        return Next::Step(Step::Password);
    }
    // OIDC Core §3.1.2.1: a login older than max_age must be made again. A password
    // presented in this flow is as fresh as it gets, whatever the clock did since.
    if let Some(max_age) = demands.max_age
        && !authn.password_in_flow
        && now.saturating_sub(authn.auth_time) > max_age
    {
        return Next::Step(Step::Password);
    }
    if let Some(subject) = &demands.subject
        && *subject != authn.subject
    {
        // A session of another citizen logs in again; a login made in this flow for
        // another citizen cannot be what the client asked for.
        return if authn.password_in_flow {
            Next::Refuse(Refusal::OtherCitizen)
        } else {
            Next::Step(Step::Password)
        };
    }
    match factor_verdict(account, &authn.amr, authn.level, demands.acr) {
        FactorVerdict::Unmet => return Next::Refuse(Refusal::Unmet),
        FactorVerdict::Needed => return Next::Step(Step::SecondFactor),
        FactorVerdict::Satisfied => {}
    }
    if facts.consent_due {
        return Next::Step(Step::Consent);
    }
    Next::Done
}

#[cfg(test)]
mod tests {
    use super::*;
    use AssuranceLevel::{Level1, Level2};

    const NOW: i64 = 1_800_000_000;

    fn authn(amr: &[&str], level: AssuranceLevel, in_flow: bool) -> Authn {
        Authn {
            account_id: "acc".into(),
            subject: "sub-acc".into(),
            auth_time: NOW - 60,
            amr: Amr::from_words(&amr.join(" ")).expect("methods of RFC 8176"),
            level,
            password_in_flow: in_flow,
        }
    }

    fn account(level: AssuranceLevel, has_factor: bool) -> AccountFacts {
        AccountFacts {
            level,
            has_factor,
            eligible: true,
        }
    }

    fn facts(authn: Option<Authn>, account: Option<AccountFacts>, consent_due: bool) -> Facts {
        Facts {
            authn,
            account,
            consent_due,
        }
    }

    fn session(amr: &[&str], level: AssuranceLevel) -> Option<Authn> {
        Some(authn(amr, level, false))
    }

    fn level2_demand() -> Demands {
        Demands {
            acr: Some(AcrDemand { min_level: Level2 }),
            ..Demands::default()
        }
    }

    #[test]
    fn a_page_accepts_only_a_flow_at_its_own_step() {
        let steps = [Step::Password, Step::SecondFactor, Step::Consent];
        for at in steps {
            for page in steps {
                assert_eq!(at.accepts(page), at == page, "{at:?} at {page:?}");
            }
        }
    }

    #[test]
    fn without_anyone_authenticated_the_flow_asks_for_the_password() {
        let next = next(&Demands::default(), &facts(None, None, false), NOW);
        assert_eq!(next, Next::Step(Step::Password));
        // An authentication whose account is gone counts for nothing.
        let gone = facts(session(&["pwd"], Level1), None, false);
        assert_eq!(
            super::next(&Demands::default(), &gone, NOW),
            Next::Step(Step::Password)
        );
    }

    #[test]
    fn a_password_alone_is_done_for_an_account_without_a_factor() {
        let f = facts(
            Some(authn(&["pwd"], Level1, true)),
            Some(account(Level1, false)),
            false,
        );
        assert_eq!(next(&Demands::default(), &f, NOW), Next::Done);
    }

    #[test]
    fn consent_due_comes_after_every_authentication_step() {
        let f = facts(
            Some(authn(&["pwd"], Level1, true)),
            Some(account(Level1, true)),
            true,
        );
        // The factor first, then consent.
        assert_eq!(
            next(&Demands::default(), &f, NOW),
            Next::Step(Step::SecondFactor)
        );
        let f = facts(
            Some(authn(&["pwd", "otp", "mfa"], Level1, true)),
            Some(account(Level1, true)),
            true,
        );
        assert_eq!(
            next(&Demands::default(), &f, NOW),
            Next::Step(Step::Consent)
        );
    }

    #[test]
    fn prompt_login_is_never_met_by_a_live_session_whatever_it_holds() {
        let demands = Demands {
            reauthenticate: true,
            ..Demands::default()
        };
        for consent_due in [false, true] {
            let f = facts(
                session(&["pwd", "hwk", "user", "mfa"], Level2),
                Some(account(Level2, true)),
                consent_due,
            );
            assert_eq!(next(&demands, &f, NOW), Next::Step(Step::Password));
        }
        let f = facts(
            Some(authn(&["pwd"], Level1, true)),
            Some(account(Level1, false)),
            false,
        );
        assert_eq!(next(&demands, &f, NOW), Next::Done);
    }

    #[test]
    fn max_age_sends_an_older_login_back_to_the_password() {
        let demands = Demands {
            max_age: Some(30),
            ..Demands::default()
        };
        // Logged in 60 s ago.
        let old = facts(
            session(&["pwd"], Level1),
            Some(account(Level1, false)),
            false,
        );
        assert_eq!(next(&demands, &old, NOW), Next::Step(Step::Password));
        let within = Demands {
            max_age: Some(60),
            ..Demands::default()
        };
        assert_eq!(next(&within, &old, NOW), Next::Done);
        // max_age=0 with a password presented in this flow is met.
        let zero = Demands {
            max_age: Some(0),
            ..Demands::default()
        };
        let fresh = facts(
            Some(authn(&["pwd"], Level1, true)),
            Some(account(Level1, false)),
            false,
        );
        assert_eq!(next(&zero, &fresh, NOW), Next::Done);
    }

    #[test]
    fn an_acr_demand_steps_up_or_is_unmet() {
        // A level-2 account with a factor, logged in with the password only.
        let f = facts(
            session(&["pwd"], Level1),
            Some(account(Level2, true)),
            false,
        );
        assert_eq!(
            next(&level2_demand(), &f, NOW),
            Next::Step(Step::SecondFactor)
        );
        // A level-1 account can never reach level 2.
        let f = facts(
            session(&["pwd", "otp", "mfa"], Level1),
            Some(account(Level1, true)),
            false,
        );
        assert_eq!(
            next(&level2_demand(), &f, NOW),
            Next::Refuse(Refusal::Unmet)
        );
        // A level-2 account without a factor cannot either.
        let f = facts(
            session(&["pwd"], Level1),
            Some(account(Level2, false)),
            false,
        );
        assert_eq!(
            next(&level2_demand(), &f, NOW),
            Next::Refuse(Refusal::Unmet)
        );
    }

    #[test]
    fn a_session_that_holds_a_lower_level_than_its_methods_would_now_reach_steps_up() {
        // The factor was presented while the account was at level 1; an officer raised it
        // since: the session still holds level 1.
        let f = facts(
            session(&["pwd", "otp", "mfa"], Level1),
            Some(account(Level2, true)),
            false,
        );
        assert_eq!(
            next(&level2_demand(), &f, NOW),
            Next::Step(Step::SecondFactor)
        );
        let f = facts(
            session(&["pwd", "otp", "mfa"], Level2),
            Some(account(Level2, true)),
            false,
        );
        assert_eq!(next(&level2_demand(), &f, NOW), Next::Done);
    }

    #[test]
    fn an_account_with_a_factor_presents_it_even_without_a_demand() {
        let f = facts(
            Some(authn(&["pwd"], Level1, true)),
            Some(account(Level1, true)),
            false,
        );
        assert_eq!(
            next(&Demands::default(), &f, NOW),
            Next::Step(Step::SecondFactor)
        );
    }

    #[test]
    fn an_id_token_hint_for_another_citizen_never_switches_silently() {
        let demands = Demands {
            subject: Some("someone-else".into()),
            ..Demands::default()
        };
        // A live session of another citizen: log in again.
        let f = facts(
            session(&["pwd"], Level1),
            Some(account(Level1, false)),
            false,
        );
        assert_eq!(next(&demands, &f, NOW), Next::Step(Step::Password));
        // Logged in in this flow as another citizen: refused.
        let f = facts(
            Some(authn(&["pwd"], Level1, true)),
            Some(account(Level1, false)),
            false,
        );
        assert_eq!(next(&demands, &f, NOW), Next::Refuse(Refusal::OtherCitizen));
        // The right citizen goes on.
        let demands = Demands {
            subject: Some("sub-acc".into()),
            ..Demands::default()
        };
        assert_eq!(next(&demands, &f, NOW), Next::Done);
    }

    #[test]
    fn an_account_no_longer_eligible_is_refused_at_any_step() {
        let mut ineligible = account(Level2, true);
        ineligible.eligible = false;
        for consent_due in [false, true] {
            let f = facts(
                session(&["pwd", "otp", "mfa"], Level2),
                Some(ineligible),
                consent_due,
            );
            assert_eq!(
                next(&Demands::default(), &f, NOW),
                Next::Refuse(Refusal::NotEligible)
            );
        }
    }

    #[test]
    fn every_demand_is_checked_again_at_the_last_step() {
        // A flow at consent whose session no longer meets max_age goes back to the
        // password, not on to a code.
        let demands = Demands {
            max_age: Some(10),
            ..Demands::default()
        };
        let f = facts(
            session(&["pwd"], Level1),
            Some(account(Level1, false)),
            true,
        );
        assert_eq!(next(&demands, &f, NOW), Next::Step(Step::Password));
    }
}
