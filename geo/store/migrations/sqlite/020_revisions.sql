-- The layers kept in process have had their revision rows and triggers since 001_core and
-- 014_compounds here (a file holds one writer at a time, so a row trigger is enough); this
-- version keeps both backends' schemas at the same number.
SELECT 1;
