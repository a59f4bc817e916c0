"""account service: accounts, settings, sites, cost centers, inventory, portals."""
