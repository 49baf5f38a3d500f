"""Compounds (小区), buildings (楼栋), units (单元) and their heads (三长) below the grid."""
