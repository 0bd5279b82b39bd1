//! Table definitions shared by both backends; the migrations keep them identical.

diesel::table! {
    citizens (national_id) {
        national_id -> Text,
        full_name -> Text,
        family_name -> Text,
        middle_name -> Text,
        given_name -> Text,
        birth_date -> Date,
        sex -> Text,
        nationality -> Text,
        place_of_origin -> Text,
        address_street -> Text,
        address_ward -> Text,
        address_district -> Text,
        address_province -> Text,
        address_country -> Text,
        id_card_number -> Text,
        id_card_issued_on -> Date,
        id_card_expires_on -> Nullable<Date>,
        life_status -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        national_id -> Text,
        password_hash -> Text,
        status -> Text,
        assurance_level -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        phone_verified_at -> Nullable<Timestamp>,
        email_verified_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    clients (client_id) {
        client_id -> Text,
        name -> Text,
        kind -> Text,
        secret_hash -> Nullable<Binary>,
        redirect_uris -> Text,
        scopes -> Text,
        id_token_alg -> Text,
        auth_method -> Text,
        created_at -> Timestamp,
        access_token_ttl_secs -> Nullable<Integer>,
        post_logout_redirect_uris -> Text,
        backchannel_logout_uri -> Nullable<Text>,
        grant_types -> Text,
        subject_type -> Text,
        sector_identifier -> Nullable<Text>,
        jwks -> Nullable<Text>,
        jwks_uri -> Nullable<Text>,
        updated_at -> Nullable<Timestamp>,
        first_party -> Bool,
        token_endpoint_auth_signing_alg -> Nullable<Text>,
        assertion_audience -> Text,
        security -> Text,
    }
}

diesel::table! {
    pairwise_subjects (subject) {
        subject -> Text,
        account_id -> Text,
        sector -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(accounts -> citizens (national_id));
diesel::allow_tables_to_appear_in_same_query!(
    citizens,
    accounts,
    clients,
    audit_events,
    refresh_tokens,
    signing_keys
);

diesel::table! {
    consents (account_id, client_id) {
        account_id -> Text,
        client_id -> Text,
        scope -> Text,
        granted_at -> Timestamp,
    }
}

diesel::joinable!(consents -> clients (client_id));
diesel::allow_tables_to_appear_in_same_query!(consents, clients);

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> Timestamp,
        kind -> Text,
        outcome -> Text,
        national_id -> Nullable<Text>,
        client_id -> Nullable<Text>,
        claims -> Nullable<Text>,
        request_id -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        account_id -> Text,
        client_id -> Text,
        scope -> Text,
        auth_time -> BigInt,
        acr -> Text,
        amr -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        sid -> Nullable<Text>,
        access_token_jti -> Nullable<Text>,
        access_token_expires_at -> Nullable<Timestamp>,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> Timestamp,
        revoked_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        sealed_key -> Nullable<Binary>,
        created_at -> Timestamp,
        activated_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
        published_until -> Nullable<Timestamp>,
        purpose -> Text,
    }
}

diesel::table! {
    federated_clients (client_id) {
        client_id -> Text,
        trust_anchor -> Text,
        resolved_at -> Timestamp,
        expires_at -> Timestamp,
        metadata_sha256 -> Text,
        organization -> Text,
    }
}

diesel::joinable!(federated_clients -> clients (client_id));

diesel::table! {
    federation_subordinates (entity_id) {
        entity_id -> Text,
        jwks -> Text,
        metadata_policy -> Nullable<Text>,
        metadata -> Nullable<Text>,
        constraints -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    second_factors (id) {
        id -> Text,
        account_id -> Text,
        kind -> Text,
        sealed_secret -> Binary,
        last_used_step -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    recovery_codes (account_id, code_digest) {
        account_id -> Text,
        code_digest -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        credential_id -> Text,
        credential -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    second_factor_failures (account_id) {
        account_id -> Text,
        failures -> BigInt,
        last_failure_at -> Timestamp,
    }
}

diesel::table! {
    logout_deliveries (id) {
        id -> BigInt,
        client_id -> Text,
        uri -> Text,
        sub -> Text,
        sid -> Text,
        alg -> Text,
        national_id -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    account_logouts (id) {
        id -> BigInt,
        account_id -> Text,
        reason -> Text,
        requested_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    register_version (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    notifications (id) {
        id -> BigInt,
        account_id -> Nullable<Text>,
        channel -> Text,
        recipient -> Text,
        kind -> Text,
        subject -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    officer_roles (account_id, role) {
        account_id -> Text,
        role -> Text,
        granted_at -> Timestamp,
        granted_by -> Text,
    }
}

diesel::table! {
    officer_tokens (id) {
        id -> Text,
        account_id -> Text,
        token_digest -> Binary,
        roles -> Text,
        label -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    disabled_clients (client_id) {
        client_id -> Text,
        disabled_at -> Timestamp,
        disabled_by -> Text,
    }
}

diesel::joinable!(officer_roles -> accounts (account_id));
diesel::joinable!(officer_tokens -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(officer_roles, officer_tokens, accounts);
diesel::allow_tables_to_appear_in_same_query!(officer_roles, citizens);
diesel::allow_tables_to_appear_in_same_query!(disabled_clients, clients);

diesel::table! {
    known_devices (account_id, device) {
        account_id -> Text,
        device -> Text,
        first_seen -> Timestamp,
    }
}
