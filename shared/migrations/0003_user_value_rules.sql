-- Users: timestamps kept at the millisecond precision SCIM renders (so meta.created / meta.lastModified filters
-- compare exactly with what clients were shown), and unassigned text stored as NULL, never ''.
-- depends: 0002_filter_indexes

UPDATE users SET created_at = date_trunc('milliseconds', created_at), updated_at = date_trunc('milliseconds', updated_at);
ALTER TABLE users ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', now());
ALTER TABLE users ALTER COLUMN updated_at SET DEFAULT date_trunc('milliseconds', now());

UPDATE users SET given_name = NULLIF(given_name, ''), family_name = NULLIF(family_name, ''),
    formatted_name = NULLIF(formatted_name, ''), display_name = NULLIF(display_name, ''),
    external_id = NULLIF(external_id, '');
ALTER TABLE users
    ADD CONSTRAINT users_given_name_assigned CHECK (given_name <> ''),
    ADD CONSTRAINT users_family_name_assigned CHECK (family_name <> ''),
    ADD CONSTRAINT users_formatted_name_assigned CHECK (formatted_name <> ''),
    ADD CONSTRAINT users_display_name_assigned CHECK (display_name <> ''),
    ADD CONSTRAINT users_external_id_assigned CHECK (external_id <> '');
