"""Alarms from key sites (sensors on sewers, manhole covers ...) and cameras (video analysis):
each becomes an issue through the intake, located at its source, and the alarms that follow
for the same source and kind attach to that issue while it is open (`raising`). `kinds` is the
closed list of what each source may report and the category each kind files under; `listing`
reads them back under the reader's jurisdiction."""
