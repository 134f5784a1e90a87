-- Keys of view rows compare by code point, whatever the database's collation: a page of a
-- view's rows goes on after a key, and a prefix of keys is one range of the primary key.
ALTER TABLE view_rows ALTER COLUMN key TYPE text COLLATE "C";
