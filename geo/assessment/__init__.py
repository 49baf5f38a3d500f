"""The monthly assessment (考核评价) of teams, departments and areas."""
