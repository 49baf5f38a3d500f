"""Property companies (物业公司) on the red/black list (红黑榜): `period` (the month or days a
list covers), `rule` (score, rank, red and black lists, talks proposed: pure), `figures` (the
counts in SQL, under the viewer's sight), `ranking` (the list a viewer reads, with the trend),
`company` (one company's page, the compounds' map), `talks` (约谈 recorded), `bulletin` (the
monthly export)."""
