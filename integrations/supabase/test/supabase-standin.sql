-- A stand-in for the parts of a Supabase database that user-deleted.sql touches, for
-- scripts/supabase_sql_test.sh. Run as the cluster's superuser (here `supabase_admin`, as
-- on Supabase) in a throwaway cluster. Shapes and grants follow Supabase's:
--   - roles: `postgres` (not a superuser; runs the SQL editor and migrations),
--     `supabase_auth_admin` (the Auth server; owns schema auth, search_path auth, and may
--     use neither Vault nor pg_net), anon / authenticated / service_role (the Data API);
--   - auth.users with the columns the trigger and the test use;
--   - vault.secrets, the view vault.decrypted_secrets and vault.create_secret /
--     vault.update_secret with Supabase Vault's signatures (no encryption here);
--   - net.http_post with pg_net's signature, recording each request in net._requests
--     (the bytes pg_net would send: convert_to(body::text, 'UTF8')) instead of sending it;
--   - pgcrypto in schema extensions.

\set ON_ERROR_STOP on

create role postgres login createrole createdb bypassrls;
create role supabase_auth_admin login noinherit createrole;
alter role supabase_auth_admin set search_path = auth;
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
-- On Supabase, postgres may create schemas.
do $$ begin execute format('grant create on database %I to postgres', current_database()); end $$;

-- pgcrypto where Supabase puts it.
create schema extensions;
create extension pgcrypto with schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;

-- auth.users, owned by the Auth server's role.
create schema auth authorization supabase_auth_admin;
create table auth.users (
  id                 uuid primary key,
  email              text,
  phone              text,
  encrypted_password text,
  deleted_at         timestamptz,
  raw_app_meta_data  jsonb,
  raw_user_meta_data jsonb,
  is_anonymous       boolean not null default false,
  created_at         timestamptz default now(),
  updated_at         timestamptz default now()
);
alter table auth.users owner to supabase_auth_admin;
grant usage on schema auth to postgres;
grant all on auth.users to postgres;

-- Supabase Vault (supabase_vault 0.3 signatures; stored in clear here).
create schema vault;
create table vault.secrets (
  id          uuid primary key default gen_random_uuid(),
  name        text unique,
  description text not null default '',
  secret      text not null,
  key_id      uuid,
  nonce       bytea,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create view vault.decrypted_secrets as
  select id, name, description, secret, secret as decrypted_secret, key_id, nonce,
         created_at, updated_at
  from vault.secrets;
create function vault.create_secret(
  new_secret text, new_name text default null, new_description text default '',
  new_key_id uuid default null)
returns uuid language sql security definer set search_path = '' as $$
  insert into vault.secrets (secret, name, description, key_id)
  values (new_secret, new_name, coalesce(new_description, ''), new_key_id)
  returning id
$$;
create function vault.update_secret(
  secret_id uuid, new_secret text default null, new_name text default null,
  new_description text default null, new_key_id uuid default null)
returns void language sql security definer set search_path = '' as $$
  update vault.secrets set
    secret = coalesce(new_secret, secret),
    name = coalesce(new_name, name),
    description = coalesce(new_description, description),
    key_id = coalesce(new_key_id, key_id),
    updated_at = now()
  where id = secret_id
$$;
revoke all on all functions in schema vault from public;
grant usage on schema vault to postgres;
grant select, delete on vault.secrets to postgres;
grant select on vault.decrypted_secrets to postgres;
grant execute on all functions in schema vault to postgres;

-- pg_net's interface. pg_net checks the content type and queues
-- convert_to(body::text, 'UTF8'); this records the same, and the headers, and sends nothing.
create schema net;
create table net._requests (
  id                   bigserial primary key,
  url                  text not null,
  body                 text,
  body_bytes           bytea,
  params               jsonb,
  headers              jsonb,
  timeout_milliseconds integer,
  created_at           timestamptz not null default clock_timestamp()
);
create function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000)
returns bigint language plpgsql security definer set search_path = '' as $$
declare
  content_type text;
  request_id bigint;
begin
  select h.value into content_type
    from jsonb_each_text(coalesce(headers, '{}'::jsonb)) h
    where lower(h.key) = 'content-type' limit 1;
  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  elsif content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;
  insert into net._requests (url, body, body_bytes, params, headers, timeout_milliseconds)
  values (url, body::text, convert_to(body::text, 'UTF8'), params, headers, timeout_milliseconds)
  returning id into request_id;
  return request_id;
end
$$;
revoke all on all functions in schema net from public;
grant usage on schema net to postgres, anon, authenticated, service_role;
grant execute on function net.http_post(text, jsonb, jsonb, jsonb, integer)
  to postgres, anon, authenticated, service_role;

-- The Auth server's role may use neither (nothing was granted; said explicitly).
revoke all on schema vault, net, extensions from supabase_auth_admin;
