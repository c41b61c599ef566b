-- Participants' zones are parsed where they arrive and read as IANA zones everywhere else (a name
-- that is not one is an error to read, no longer taken for UTC by each reader). A name stored
-- before that which is no zone becomes 'UTC', the zone its participant was already treated in.
UPDATE participants SET time_zone = 'UTC'
WHERE time_zone NOT IN (SELECT name FROM pg_timezone_names);
