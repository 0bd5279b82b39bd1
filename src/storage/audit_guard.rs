//! The audit trail's guard, on PostgreSQL. `audit_events` is append-only: a trigger
//! refuses UPDATE, DELETE and TRUNCATE. But the role that owns a table may drop its
//! triggers, and the owner of the trigger's function may replace it: while the
//! application's role owns both (it ran the migrations), a compromised application
//! could disable the guard and rewrite the trail. [`lock_down`] hands the table and the
//! function to [`AUDIT_OWNER`], a role that cannot log in, and leaves the application's
//! role INSERT and SELECT on the table only. It is an operator's step, run once as a
//! superuser (docs/OPERATIONS.md): a role that may do it may also undo it, so the
//! migrations, which run as the application, cannot do it themselves.
//!
//! SQLite has no roles: there, whoever can write the file can rewrite the trail.

use diesel::sql_types::{Bool, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

use super::{DbConnection, StorageError};

/// The role that owns the audit table and its guard; it cannot log in.
pub const AUDIT_OWNER: &str = "citizen_idp_audit_owner";

#[derive(Debug, thiserror::Error)]
pub enum LockDownError {
    #[error("the audit lock-down needs PostgreSQL (SQLite has no roles)")]
    NotPostgres,
    #[error("there is no role named {0:?}")]
    NoSuchRole(String),
    #[error(
        "{0:?} is a superuser, or may bypass row security: such a role bypasses every grant; the application must connect as an ordinary role"
    )]
    Superuser(String),
    #[error(
        "{0:?} may create roles (CREATEROLE), so it could make itself a member of {AUDIT_OWNER}: the application must connect as a role without CREATEROLE"
    )]
    CreateRole(String),
    #[error(
        "{0:?} is a member of {AUDIT_OWNER}, so it holds the owner's rights: REVOKE {AUDIT_OWNER} FROM it first"
    )]
    Member(String),
    #[error(
        "{0:?} owns the schema of audit_events (directly, or as the owner of the database), and a schema's owner may drop any table in it: give the schema (or the database) to a role the application does not use"
    )]
    SchemaOwner(String),
    #[error(
        "{0:?} can still {1} audit_events through another role it belongs to (or PUBLIC): revoke that first"
    )]
    StillPrivileged(String, &'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<diesel::result::Error> for LockDownError {
    fn from(e: diesel::result::Error) -> Self {
        LockDownError::Storage(e.into())
    }
}

/// What [`lock_down`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedDown {
    /// Whether [`AUDIT_OWNER`] was made now (it is kept between runs and databases:
    /// roles belong to the whole PostgreSQL cluster).
    pub created_owner: bool,
    /// The table's owner before.
    pub previous_owner: String,
}

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = Bool)]
    privileged: bool,
    #[diesel(sql_type = Bool)]
    createrole: bool,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// An identifier quoted for SQL (PostgreSQL's `quote_ident`): role names cannot be
/// bound as parameters in GRANT and ALTER.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn flag(conn: &mut PgConnection, query: &str, role: &str) -> Result<bool, LockDownError> {
    let row: Flag = diesel::sql_query(query)
        .bind::<Text, _>(role)
        .get_result(conn)?;
    Ok(row.flag)
}

/// Hands `audit_events` and its guard to [`AUDIT_OWNER`] and leaves `app_role` SELECT
/// and INSERT on it (and USAGE on its id sequence), nothing more. In one transaction;
/// running it again changes nothing. Refuses an application role that could take the
/// rights back (a superuser, CREATEROLE, a member of the owner, the schema's owner).
pub fn lock_down(conn: &mut DbConnection, app_role: &str) -> Result<LockedDown, LockDownError> {
    let DbConnection::Postgres(conn) = conn else {
        return Err(LockDownError::NotPostgres);
    };
    conn.transaction(|conn| {
        let role: Option<RoleRow> = diesel::sql_query(
            "SELECT rolsuper OR rolbypassrls AS privileged, rolcreaterole AS createrole \
             FROM pg_roles WHERE rolname = $1::name",
        )
        .bind::<Text, _>(app_role)
        .get_result(conn)
        .map(Some)
        .or_else(|e| match e {
            diesel::result::Error::NotFound => Ok(None),
            e => Err(e),
        })?;
        let role = role.ok_or_else(|| LockDownError::NoSuchRole(app_role.to_owned()))?;
        if role.privileged {
            return Err(LockDownError::Superuser(app_role.to_owned()));
        }
        if role.createrole {
            return Err(LockDownError::CreateRole(app_role.to_owned()));
        }
        let owns_schema = flag(
            conn,
            "SELECT pg_has_role($1::name, n.nspowner, 'MEMBER') AS flag \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = 'audit_events'::regclass",
            app_role,
        )?;
        if owns_schema {
            return Err(LockDownError::SchemaOwner(app_role.to_owned()));
        }
        let previous_owner: Name = diesel::sql_query(
            "SELECT pg_get_userbyid(relowner)::text AS name FROM pg_class \
             WHERE oid = 'audit_events'::regclass",
        )
        .get_result(conn)?;

        let exists = flag(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1::name) AS flag",
            AUDIT_OWNER,
        )?;
        if !exists {
            // Another lock-down (of another database on the same cluster) may make it
            // at the same moment.
            diesel::sql_query(format!(
                "DO $$ BEGIN CREATE ROLE {} NOLOGIN; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
                quote_ident(AUDIT_OWNER)
            ))
            .execute(conn)?;
        }
        let member =
            format!("SELECT pg_has_role($1::name, '{AUDIT_OWNER}'::name, 'MEMBER') AS flag");
        if flag(conn, &member, app_role)? {
            return Err(LockDownError::Member(app_role.to_owned()));
        }

        let owner = quote_ident(AUDIT_OWNER);
        let app = quote_ident(app_role);
        let sequence: Name =
            diesel::sql_query("SELECT pg_get_serial_sequence('audit_events', 'id') AS name")
                .get_result(conn)?;
        // The sequence's name comes quoted as needed from PostgreSQL itself.
        let sequence = sequence.name;
        for statement in [
            // The sequence owned by the id column follows the table.
            format!("ALTER TABLE audit_events OWNER TO {owner}"),
            format!("ALTER FUNCTION audit_events_append_only() OWNER TO {owner}"),
            "REVOKE ALL ON audit_events FROM PUBLIC".to_owned(),
            format!("REVOKE ALL ON audit_events FROM {app}"),
            format!("GRANT SELECT, INSERT ON audit_events TO {app}"),
            format!("REVOKE ALL ON SEQUENCE {sequence} FROM PUBLIC"),
            format!("REVOKE ALL ON SEQUENCE {sequence} FROM {app}"),
            format!("GRANT USAGE ON SEQUENCE {sequence} TO {app}"),
            "REVOKE ALL ON FUNCTION audit_events_append_only() FROM PUBLIC".to_owned(),
        ] {
            diesel::sql_query(statement).execute(conn)?;
        }
        // What the role can do now, through every role it belongs to.
        for privilege in ["UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES"] {
            let query = format!(
                "SELECT has_table_privilege($1::name, 'audit_events'::text, '{privilege}') AS flag"
            );
            if flag(conn, &query, app_role)? {
                return Err(LockDownError::StillPrivileged(
                    app_role.to_owned(),
                    privilege,
                ));
            }
        }
        Ok(LockedDown {
            created_owner: !exists,
            previous_owner: previous_owner.name,
        })
    })
}

/// Whether this connection may drop the audit table: true on SQLite, and on
/// PostgreSQL while it has its owner's rights (or the table is not there). After a
/// lock-down the application's role has not: `migrate --redo` would drop every other
/// table and then fail on this one.
pub fn may_drop_audit_trail(conn: &mut DbConnection) -> Result<bool, StorageError> {
    let DbConnection::Postgres(conn) = conn else {
        return Ok(true);
    };
    let row: Flag = diesel::sql_query(
        "SELECT COALESCE((SELECT pg_has_role(current_user, relowner, 'USAGE') \
         FROM pg_class WHERE oid = to_regclass('audit_events')), true) AS flag",
    )
    .get_result(conn)?;
    Ok(row.flag)
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn role_names_are_quoted_as_postgresql_does() {
        assert_eq!(quote_ident("citizen_idp"), "\"citizen_idp\"");
        assert_eq!(
            quote_ident("a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
    }
}
