# An execution profile that still holds the shipped placeholder (workflow/profiles/slurm: CHANGE_ME for
# partitions and the account) fails here, at the dry run, instead of at the first sbatch.
from snakemake.exceptions import WorkflowError

PROFILE_PLACEHOLDER = "CHANGE_ME"


def unedited_resources():
    """{resource: [where]} for every default-resources / set-resources value still holding the placeholder."""
    settings = workflow.resource_settings
    scopes = {"default-resources": settings.default_resources or {}}
    scopes |= {f"set-resources.{name}": res for name, res in settings.overwrite_resources.items()}
    found = {}
    for scope, resources in scopes.items():
        for key, value in resources.items():
            if PROFILE_PLACEHOLDER in str(getattr(value, "raw", value)):
                found.setdefault(key, []).append(scope)
    return found


def check_profile_edited():
    found = unedited_resources()
    if found:
        where = "; ".join(f"{key} ({', '.join(scopes)})" for key, scopes in found.items())
        raise WorkflowError(
            f"the execution profile still says {PROFILE_PLACEHOLDER}: {where}. Set each to your cluster's "
            "value (partitions: `sinfo -s`; account: `sacctmgr show assoc user=$USER format=account`) or "
            "delete the line, in workflow/profiles/slurm/config.yaml (README: Running on a cluster, step 2)."
        )


check_profile_edited()
