-- zuplo-auth-hooks: tell the function when a Supabase user is deleted (PostgreSQL 15+).
--
-- WHAT IT DOES
--   Supabase has no Auth hook for deletions, and its Database Webhooks are unsigned and
--   send the whole auth.users row (password hash included). This file installs two
--   triggers on auth.users instead:
--     - zuplo_auth_hooks_user_deleted       AFTER DELETE (hard delete; Dashboard, Admin API)
--     - zuplo_auth_hooks_user_soft_deleted  AFTER UPDATE OF deleted_at, only when deleted_at
--       goes from null to a value (Admin API with should_soft_delete). Later updates of a
--       soft-deleted user send nothing.
--   Each POSTs, through pg_net, a minimal JSON body to the function's route
--   POST /supabase/user-deleted:
--     {"email": <email before the change, or null>, "event": "user.deleted" | "user.soft_deleted",
--      "user_id": "<auth.users.id>"}
--   never the row. It is signed the Standard Webhooks way inside Postgres (HMAC-SHA256 over
--   "<webhook-id>.<webhook-timestamp>.<body>" with pgcrypto; headers webhook-id,
--   webhook-timestamp, webhook-signature), where <body> is exactly the bytes pg_net sends
--   (convert_to(payload::text, 'UTF8') of the jsonb). The function verifies it with the field
--   `supabase_deletion_secret` of its secret in AWS Secrets Manager (5-minute tolerance) and
--   deletes that user's consumer. pg_net sends after the transaction commits: a deletion
--   that rolls back sends nothing.
--
--   It never blocks a deletion: if a Vault secret is missing or malformed, or anything else
--   fails, it raises a WARNING (in the Postgres logs; it names the Vault secret, never its
--   value) and the user is deleted anyway; that user's consumer then stays in Zuplo until
--   deleted by hand. pg_net does not retry failed requests either (see net._http_response).
--
-- PREREQUISITES (Supabase: Database -> Extensions, or SQL)
--   create extension if not exists pg_net;                            -- schema net
--   create extension if not exists pgcrypto with schema extensions;   -- on by default
--   Vault (on by default), with two secrets:
--     select vault.create_secret('https://<id>.lambda-url.<region>.on.aws/supabase/user-deleted',
--                                'zuplo_auth_hooks_user_deleted_url');
--     select vault.create_secret('whsec_<base64>', 'zuplo_auth_hooks_user_deleted_secret');
--   The secret is the same value as `supabase_deletion_secret` in the function's secret
--   (generate one with: openssl rand -base64 32, and prefix it with whsec_; a `v1,whsec_…`
--   value is accepted too).
--
-- INSTALL
--   Run this file as `postgres` (the Dashboard's SQL editor does), or add it as a migration
--   (supabase migration new zuplo_auth_hooks_user_deleted, paste, supabase db push). It is
--   safe to run again. It creates the schema zuplo_auth_hooks (not exposed by the Data API)
--   holding the trigger function. The function is SECURITY DEFINER, owned by the role that
--   runs this file: Supabase's Auth server writes auth.users as supabase_auth_admin, which
--   may neither read Vault nor call net.http_post, so the function uses its owner's rights,
--   with an empty search_path (everything below is schema-qualified).
--   Check: delete a test user, then
--     select id, status_code, content from net._http_response order by id desc limit 5;
--   (200 {"status":"deleted"} or {"status":"absent"}; 401 means the two secrets differ).
--
-- ROTATE THE SECRET (no lost deletions)
--   1. Give the function both secrets: "supabase_deletion_secret": "whsec_OLD|whsec_NEW".
--   2. select vault.update_secret((select id from vault.secrets
--                                   where name = 'zuplo_auth_hooks_user_deleted_secret'),
--                                  'whsec_NEW');
--   3. Remove whsec_OLD from the function's secret.
--   Or the other way round: the Vault secret may hold several values joined by `|`
--   ('whsec_OLD|whsec_NEW'), each adding a signature to webhook-signature; switch the
--   function to whsec_NEW, then leave only whsec_NEW in Vault.
--   The URL changes with vault.update_secret on zuplo_auth_hooks_user_deleted_url.
--
-- REMOVE
--   drop schema zuplo_auth_hooks cascade;   -- drops the function and both triggers
--   delete from vault.secrets
--     where name in ('zuplo_auth_hooks_user_deleted_url', 'zuplo_auth_hooks_user_deleted_secret');
--   (`drop trigger … on auth.users` can fail with "must be owner of relation users":
--   auth.users belongs to supabase_auth_admin. Dropping the schema with CASCADE removes the
--   triggers with the function, without that ownership.)
--
-- LIMITS
--   The signature carries the time of the DELETE/UPDATE: a transaction left open for more
--   than 5 minutes after deleting a user gets its request refused (401) by the function.
--   Deleting a soft-deleted user later sends a second request (answered {"status":"absent"}).

-- Refuse to install what could never work, with the command that fixes it.
do $install_checks$
begin
  if to_regprocedure('extensions.hmac(bytea,bytea,text)') is null then
    raise exception 'zuplo_auth_hooks: pgcrypto is not installed in schema extensions'
      using hint = 'create extension if not exists pgcrypto with schema extensions;';
  end if;
  if to_regprocedure('net.http_post(text,jsonb,jsonb,jsonb,integer)') is null then
    raise exception 'zuplo_auth_hooks: pg_net is not enabled (net.http_post is missing)'
      using hint = 'create extension if not exists pg_net;';
  end if;
  if to_regclass('vault.decrypted_secrets') is null then
    raise exception 'zuplo_auth_hooks: Supabase Vault is not available (vault.decrypted_secrets is missing)'
      using hint = 'create extension if not exists supabase_vault;';
  end if;
  if to_regclass('auth.users') is null then
    raise exception 'zuplo_auth_hooks: auth.users does not exist';
  end if;
  -- The trigger function runs with the rights of the role installing it.
  if not has_schema_privilege('extensions', 'usage')
     or not has_schema_privilege('net', 'usage')
     or not has_schema_privilege('vault', 'usage')
     or not has_function_privilege('extensions.hmac(bytea,bytea,text)', 'execute')
     or not has_function_privilege('net.http_post(text,jsonb,jsonb,jsonb,integer)', 'execute')
     or not has_table_privilege('vault.decrypted_secrets', 'select') then
    raise exception 'zuplo_auth_hooks: role % cannot use extensions.hmac, net.http_post and vault.decrypted_secrets', current_user
      using hint = 'run this file as postgres';
  end if;
  if not exists (select 1 from vault.decrypted_secrets where name = 'zuplo_auth_hooks_user_deleted_url') then
    raise warning 'zuplo_auth_hooks: the Vault secret zuplo_auth_hooks_user_deleted_url does not exist yet; deletions are not sent until it does';
  end if;
  if not exists (select 1 from vault.decrypted_secrets where name = 'zuplo_auth_hooks_user_deleted_secret') then
    raise warning 'zuplo_auth_hooks: the Vault secret zuplo_auth_hooks_user_deleted_secret does not exist yet; deletions are not sent until it does';
  end if;
end
$install_checks$;

create schema if not exists zuplo_auth_hooks;
revoke all on schema zuplo_auth_hooks from public;

create or replace function zuplo_auth_hooks.send_user_deleted()
returns trigger
language plpgsql
security definer
-- Empty: every object outside pg_catalog is schema-qualified (pg_catalog is always searched
-- first, so built-ins cannot be shadowed).
set search_path = ''
as $function$
declare
  v_event      text;
  v_url        text;
  v_secrets    text;
  v_entry      text;
  v_payload    jsonb;
  v_signed     bytea;
  v_msg_id     text;
  v_ts         text;
  v_signatures text[] := '{}';
  v_n          int := 0;
begin
  if tg_op = 'DELETE' then
    v_event := 'user.deleted';
  elsif tg_op = 'UPDATE' and old.deleted_at is null and new.deleted_at is not null then
    v_event := 'user.soft_deleted';
  else
    return null;  -- the triggers' WHEN clause normally keeps other updates out
  end if;

  begin
    select s.decrypted_secret into v_url
      from vault.decrypted_secrets s where s.name = 'zuplo_auth_hooks_user_deleted_url' limit 1;
    select s.decrypted_secret into v_secrets
      from vault.decrypted_secrets s where s.name = 'zuplo_auth_hooks_user_deleted_secret' limit 1;
    if v_url is null or btrim(v_url) = '' then
      raise warning 'zuplo_auth_hooks: % of user % not sent: the Vault secret zuplo_auth_hooks_user_deleted_url is missing or empty', v_event, old.id;
      return null;
    end if;
    if v_secrets is null or btrim(v_secrets) = '' then
      raise warning 'zuplo_auth_hooks: % of user % not sent: the Vault secret zuplo_auth_hooks_user_deleted_secret is missing or empty', v_event, old.id;
      return null;
    end if;

    -- Never the row: it holds the password hash. The e-mail is OLD's, from before a soft
    -- delete obfuscates it.
    v_payload := jsonb_build_object('event', v_event, 'user_id', old.id::text, 'email', old.email);
    v_msg_id := 'msg_' || replace(gen_random_uuid()::text, '-', '');
    v_ts := floor(extract(epoch from clock_timestamp()))::bigint::text;
    -- pg_net sends convert_to(body::text, 'UTF8') of its jsonb body: sign those exact bytes.
    v_signed := convert_to(v_msg_id || '.' || v_ts || '.' || v_payload::text, 'UTF8');

    -- One signature per secret (several, joined by |, during a rotation).
    foreach v_entry in array string_to_array(v_secrets, '|') loop
      v_n := v_n + 1;
      v_entry := btrim(v_entry);
      if v_entry like 'v1,%' then
        v_entry := substr(v_entry, 4);
      end if;
      if v_entry !~ '^whsec_[A-Za-z0-9+/]+={0,2}$' or (length(v_entry) - 6) % 4 <> 0 then
        raise warning 'zuplo_auth_hooks: % of user % not sent: the Vault secret zuplo_auth_hooks_user_deleted_secret is malformed (entry %: expected whsec_<base64>)', v_event, old.id, v_n;
        return null;
      end if;
      v_signatures := v_signatures || ('v1,' || encode(
        extensions.hmac(v_signed, decode(substr(v_entry, 7), 'base64'), 'sha256'), 'base64'));
    end loop;

    perform net.http_post(
      url := v_url,
      body := v_payload,
      headers := jsonb_build_object(
        'Content-Type', 'application/json',
        'webhook-id', v_msg_id,
        'webhook-timestamp', v_ts,
        'webhook-signature', array_to_string(v_signatures, ' ')),
      timeout_milliseconds := 5000);
  exception when others then
    -- Never block the deletion. The message cannot quote a secret: both were checked above.
    raise warning 'zuplo_auth_hooks: % of user % not sent: % (SQLSTATE %)', v_event, old.id, sqlerrm, sqlstate;
  end;
  return null;
end
$function$;

revoke all on function zuplo_auth_hooks.send_user_deleted() from public;
do $revoke$
declare
  r text;
begin
  -- Supabase's API roles, where they exist (a trigger needs no EXECUTE grant to fire).
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if exists (select 1 from pg_catalog.pg_roles where rolname = r) then
      execute format('revoke all on function zuplo_auth_hooks.send_user_deleted() from %I', r);
    end if;
  end loop;
end
$revoke$;

-- CREATE OR REPLACE TRIGGER swaps a trigger atomically and, unlike DROP TRIGGER, needs only
-- the TRIGGER privilege on auth.users (which `postgres` has), not its ownership.
create or replace trigger zuplo_auth_hooks_user_deleted
  after delete on auth.users
  for each row
  execute function zuplo_auth_hooks.send_user_deleted();

create or replace trigger zuplo_auth_hooks_user_soft_deleted
  after update of deleted_at on auth.users
  for each row
  when (old.deleted_at is null and new.deleted_at is not null)
  execute function zuplo_auth_hooks.send_user_deleted();
