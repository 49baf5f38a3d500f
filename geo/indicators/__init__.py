"""The command centre's big-screen figures (大屏): today's counts, lights and the overdue list,
the national indicators of digital urban management (GB/T 30428.4), the four networks,
rankings per area, daily trends, team status and the mode.

Each figure is one function over one read transaction, in plain SQL through `geo.store.sql`
with the caller's jurisdiction in the query itself (`geo.casework.scope.visible_issues`), so
that the screen can never count an issue its viewer could not list. `dashboard.assemble`
gathers them in one snapshot: every figure on the screen is of the same moment."""
