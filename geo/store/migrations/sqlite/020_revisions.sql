-- The names of the areas (districts, streets, communities) that a located point is told,
-- kept in process with the grid index (geo.store.kept): a revision of their own.
INSERT INTO revision VALUES ('area', 0);
-- The counters start at a random number: a server that outlives a file made anew at the same
-- path does not take the new one's revisions for the old one's.
UPDATE revision SET n = n + abs(random() % 1000000000000000);
CREATE TRIGGER district_ins AFTER INSERT ON district BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'area'; END;
CREATE TRIGGER district_upd AFTER UPDATE ON district BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'area'; END;
CREATE TRIGGER district_del AFTER DELETE ON district BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'area'; END;
CREATE TRIGGER street_ins AFTER INSERT ON street BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'area'; END;
CREATE TRIGGER street_upd AFTER UPDATE ON street BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'area'; END;
CREATE TRIGGER street_del AFTER DELETE ON street BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'area'; END;
CREATE TRIGGER community_ins AFTER INSERT ON community BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'area'; END;
CREATE TRIGGER community_upd AFTER UPDATE ON community BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'area'; END;
CREATE TRIGGER community_del AFTER DELETE ON community BEGIN UPDATE revision SET n = n + 1 WHERE layer = 'area'; END;
