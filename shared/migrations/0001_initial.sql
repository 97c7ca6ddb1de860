-- Initial schema: tenants, SCIM tokens, users, team members, sessions, the events outbox and the audit trail.
-- depends:

CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (name <> ''),
    sso_domains text[] NOT NULL DEFAULT '{}',
    subscription_active boolean NOT NULL DEFAULT true,
    provisioning_enabled boolean NOT NULL DEFAULT false,
    jit_enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scim_tokens (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    label text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX scim_tokens_org_idx ON scim_tokens (org_id);

-- Every user of an organization, however created. A deleted user keeps a tombstone (deleted_at) so that the
-- worker can finish the clean-up; SCIM never sees it and its email may be provisioned again.
-- version counts writes (meta.version, event versions); access_epoch counts deactivations and deletions:
-- sessions and memberships from an older epoch are no longer valid.
CREATE TABLE users (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_name text NOT NULL CHECK (user_name <> ''),
    email text NOT NULL CHECK (email <> ''),
    given_name text,
    family_name text,
    formatted_name text,
    display_name text,
    external_id text,
    active boolean NOT NULL DEFAULT true,
    created_by text NOT NULL CHECK (created_by IN ('scim', 'sso', 'invite')),
    version bigint NOT NULL DEFAULT 1,
    access_epoch bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX users_org_user_name_key ON users (org_id, lower(user_name)) WHERE deleted_at IS NULL;
CREATE INDEX users_org_email_idx ON users (org_id, lower(email)) WHERE deleted_at IS NULL;
CREATE INDEX users_org_external_id_idx ON users (org_id, external_id) WHERE deleted_at IS NULL;
CREATE INDEX users_org_order_idx ON users (org_id, id) WHERE deleted_at IS NULL;

CREATE TABLE team_members (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'actions-admin', 'member', 'guest')),
    access_epoch bigint NOT NULL,
    joined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX team_members_org_idx ON team_members (org_id, joined_at, user_id);

CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    access_epoch bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_user_live_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- The transactional outbox and the permanent event log. published_at is set once the relay has put the event
-- on the stream and the job queue; settled_at once the worker recorded its outcome (applied or dead).
CREATE TABLE events (
    id uuid PRIMARY KEY,
    type text NOT NULL CHECK (
        type IN ('user.created', 'user.updated', 'user.deactivated', 'user.reactivated', 'user.deleted')
    ),
    org_id uuid NOT NULL,
    user_id uuid NOT NULL,
    version bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    data jsonb NOT NULL,
    published_at timestamptz,
    settled_at timestamptz,
    UNIQUE (user_id, version)
);
CREATE INDEX events_unpublished_idx ON events (occurred_at, id) WHERE published_at IS NULL;
CREATE INDEX events_unsettled_idx ON events (published_at) WHERE settled_at IS NULL AND published_at IS NOT NULL;
CREATE INDEX events_org_idx ON events (org_id, id);

CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('scim_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

-- What the worker has done for each event: applied (with the effects it caused) or dead-lettered.
CREATE TABLE event_effects (
    event_id uuid PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    outcome text NOT NULL CHECK (outcome IN ('applied', 'dead')),
    effects text[] NOT NULL DEFAULT '{}',
    attempts integer NOT NULL DEFAULT 1,
    error text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only audit trail. No foreign keys: records outlive the users and tokens they mention.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    org_id uuid,
    actor_type text NOT NULL CHECK (actor_type IN ('scim_token', 'admin', 'user', 'worker', 'system')),
    actor_id text,
    action text NOT NULL,
    target_user_id uuid,
    changed text[] NOT NULL DEFAULT '{}',
    request_id text,
    event_id uuid,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_org_idx ON audit_log (org_id, id);
CREATE INDEX audit_log_event_idx ON audit_log (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX audit_log_target_idx ON audit_log (target_user_id, id) WHERE target_user_id IS NOT NULL;

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
