-- One database per service, each with its own role that can reach only its own database.
-- No password here: 02-passwords.sh sets each role's password from the keys
-- container's generated postgres/roles.sql (python -m shared.keys).
CREATE ROLE account LOGIN;
CREATE ROLE identity LOGIN;
CREATE ROLE invite_scheduler LOGIN;
CREATE ROLE engage_import LOGIN;

CREATE DATABASE account OWNER account;
CREATE DATABASE identity OWNER identity;
CREATE DATABASE invite_scheduler OWNER invite_scheduler;
CREATE DATABASE engage_import OWNER engage_import;

REVOKE ALL ON DATABASE account, identity, invite_scheduler, engage_import FROM PUBLIC;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE account TO account;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE identity TO identity;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE invite_scheduler TO invite_scheduler;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE engage_import TO engage_import;
