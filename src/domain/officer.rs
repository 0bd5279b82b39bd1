//! Officers' roles: what an officer of the state may do for citizens and relying
//! parties. An operator grants them (`citizen-idp officers grant`); the console and the
//! admin API check them on every request.

use std::fmt;

/// One role. Each is a job at a counter or a desk, not a level: none includes another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Verifies citizens in person and sets the assurance level.
    Registrar,
    /// Unlocks, suspends and reinstates accounts, removes lost factors, hands out a
    /// recovery code in person and ends sessions.
    Support,
    /// Registers and edits relying parties, rotates their secrets, disables them.
    ClientAdmin,
    /// Reads the audit trail.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Registrar,
        Role::Support,
        Role::ClientAdmin,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Registrar => "registrar",
            Role::Support => "support",
            Role::ClientAdmin => "client-admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of roles, written as space-separated names where it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles(Vec<Role>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: the roles are registrar, support, client-admin and auditor")]
pub struct UnknownRole(pub String);

impl Roles {
    /// Reads names separated by spaces or commas; duplicates count once.
    pub fn parse(names: &str) -> Result<Roles, UnknownRole> {
        names
            .split([' ', ','])
            .filter(|n| !n.is_empty())
            .map(|n| Role::parse(n).ok_or_else(|| UnknownRole(n.chars().take(32).collect())))
            .collect()
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    /// The roles both sets hold: what a token may do once its officer lost a role.
    pub fn intersection(&self, other: &Roles) -> Roles {
        self.iter().filter(|r| other.contains(*r)).collect()
    }

    pub fn to_words(&self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(roles: I) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().collect();
        roles.sort();
        roles.dedup();
        Roles(roles)
    }
}

#[cfg(test)]
mod tests {
    use super::{Role, Roles};

    #[test]
    fn roles_read_back_as_written_and_refuse_unknown_names() {
        let roles = Roles::parse("support,registrar support").unwrap();
        assert_eq!(roles.to_words(), "registrar support");
        assert_eq!(Roles::parse(&roles.to_words()).unwrap(), roles);
        assert!(Roles::parse("support admin").is_err());
        assert!(Roles::parse("").unwrap().is_empty());
        let held = Roles::parse("auditor support").unwrap();
        assert_eq!(roles.intersection(&held).to_words(), "support");
        assert!(!roles.intersection(&held).contains(Role::Registrar));
    }
}
