"""The inputs of one report or command, loaded once: tables, CloudTrail volume, prices, inventories, history."""
