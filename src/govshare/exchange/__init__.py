"""Exchange (交换系统, 数据资源中心): where data actually moves, always under a grant."""
