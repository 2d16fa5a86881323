ATTACK_INPUT = {
    "split": rules.split.output[0],
    "base": rules.base_eval.output[0],
    "result": rules.unlearn.output.result,
    "checkpoint": attack_checkpoint,
}
#: the settings of both attack kinds, which a job running both depends on
ATTACK_SETTINGS = {kind: attack_settings(kind) for kind in ("harmful", "benign")}
ATTACK_COMMAND = (
    "{params.ssiuu} attack "
    "--benchmark {wildcards.benchmark} --model {wildcards.model} --method {wildcards.method} "
    "--seed {wildcards.seed} --checkpoint {input.checkpoint} --split {input.split} "
    "--unlearn-result {input.result} --base-result {input.base} --out {output} > {log} 2>&1"
)


rule attack:
    """Every attack draw of one checkpoint (§6.2.2), one process, one file per draw: harmful (retrain on ⌈p·n⌉
    of the n wrongly answered forget items, FS and log-prob on the rest) and benign (retrain on instruction
    data, FS and log-prob on the n items), for every p, learning rate and run."""
    input:
        **ATTACK_INPUT,
    output:
        HARMFUL_DRAWS + BENIGN_DRAWS,
    log:
        f"{W}/logs/attack/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{W}/benchmarks/attack/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.tsv"
    wildcard_constraints:
        method=layout.PLAIN_METHOD,
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
        settings=ATTACK_SETTINGS,
    shell:
        ATTACK_COMMAND


rule attack_harmful:
    """The harmful attack draws of a method variant (the λ ablation, Fig. 7a), one process, one file per draw."""
    input:
        **ATTACK_INPUT,
    output:
        HARMFUL_DRAWS,
    log:
        f"{W}/logs/attack/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{W}/benchmarks/attack_harmful/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.tsv"
    wildcard_constraints:
        method=layout.METHOD_VARIANT,
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
        settings=attack_settings("harmful"),
    shell:
        ATTACK_COMMAND


rule calibrate:
    """The attack calibration sweep's draws of one checkpoint (Fig. 7b, c): each attack at every calibration
    learning rate, run for analysis.attack_calibration's epochs with an evaluation after every epoch, which also
    scores the retain and test items (the attack's damage, which the calibration's rule bounds)."""
    input:
        **ATTACK_INPUT,
    output:
        CALIBRATION_DRAWS,
    log:
        f"{W}/logs/calibration/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.log",
    benchmark:
        f"{W}/benchmarks/calibrate/{{benchmark}}/{{model}}/{{method}}/seed{{seed}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
        settings=ATTACK_SETTINGS,
        calibration={
            kind: {k: v for k, v in CALIBRATION[kind].items() if k != "learning_rates"}
            for kind in ("harmful", "benign")
        },
        # each point also scores the first eval_limit retain and test items (ssiuu.attacks.damage_sets)
        damage_limit=lambda wc: config["benchmarks"][wc.benchmark]["eval_limit"],
    shell:
        ATTACK_COMMAND


localrules:
    calibration,


rule calibration:
    """The attack calibration sweep alone (`snakemake calibration`; Fig. 7b, c): not in the default run. Its draws
    are committed under results/, and the tables and figures read them where present: run `snakemake` after it
    to bring them in."""
    input:
        calibration_targets(),
