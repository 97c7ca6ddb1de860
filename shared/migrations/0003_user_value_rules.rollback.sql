ALTER TABLE users
    DROP CONSTRAINT IF EXISTS users_given_name_assigned,
    DROP CONSTRAINT IF EXISTS users_family_name_assigned,
    DROP CONSTRAINT IF EXISTS users_formatted_name_assigned,
    DROP CONSTRAINT IF EXISTS users_display_name_assigned,
    DROP CONSTRAINT IF EXISTS users_external_id_assigned;
ALTER TABLE users ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE users ALTER COLUMN updated_at SET DEFAULT now();
