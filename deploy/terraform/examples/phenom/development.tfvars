environment = "development"
