"""Runs ansible-inventory's own code for many comparisons in one Python process
(koala's pkg/inventory tests feed it jobs as JSON on stdin and read the printed
output of each job back as JSON)."""
import json, sys
from ansible import context
from ansible.module_utils.common.collections import ImmutableDict
from ansible.cli.inventory import InventoryCLI
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager

results = []
for job in json.load(sys.stdin):
    act = job["action"]
    context.CLIARGS = ImmutableDict(export=False, yaml=(act == "yaml"), toml=False, show_vars=(act == "graph_vars"),
                                    basedir=None, pattern=job.get("arg") or "all")
    cli = InventoryCLI.__new__(InventoryCLI)
    cli.loader = DataLoader()
    cli.inventory = InventoryManager(loader=cli.loader, sources=job["sources"])
    cli.vm = VariableManager(loader=cli.loader, inventory=cli.inventory)
    try:
        if act in ("list", "yaml"):
            out = cli.dump(cli.json_inventory(cli._get_group("all")) if act == "list" else cli.yaml_inventory(cli._get_group("all")))
        elif act in ("graph", "graph_vars"):
            out = cli.inventory_graph()
        elif act == "host":
            hosts = cli.inventory.get_hosts(job["arg"])
            out = cli.dump(cli._get_host_variables(host=hosts[0]))
        elif act == "patterns":
            out = {}
            for p in job["patterns"]:
                try:
                    out[p] = [h.name for h in cli.inventory.get_hosts(p)]
                except Exception:
                    out[p] = None
        results.append({"out": out})
    except Exception as e:
        results.append({"error": repr(e)})
print(json.dumps(results))
