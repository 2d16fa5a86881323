# The paper's evidence for spurious unlearning neurons (§4, §6.3-6.5): MCQA-style benchmarks only.


rule attribution:
    """Neuron attribution (Eq. 1) on the forget set; `-attacked` states re-run the harmful attack in memory."""
    input:
        unpack(state_inputs),
    output:
        P("attribution"),
    log:
        f"{W}/logs/attribution/{{benchmark}}/{{model}}/{{state}}.log",
    benchmark:
        f"{W}/benchmarks/attribution/{{benchmark}}/{{model}}/{{state}}.tsv"
    wildcard_constraints:
        state=layout.WILDCARDS["state"],
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
        attack=lambda wc: (
            f"--attack-p {ANALYSIS['distribution_attack']['p']} "
            f"--attack-lr {ANALYSIS['distribution_attack']['lr']}"
            if layout.parse_state(wc.state)[2]
            else ""
        ),
        result=lambda wc, input: (f"--unlearn-result {input.result}" if "result" in input.keys() else ""),
        target=ANALYSIS["attribution_target"],  # read from the config by the job; a change reruns it
    shell:
        "{params.ssiuu} attribution --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--model-dir {input.model} --split {input.split} {params.result} {params.attack} "
        "--out {output} > {log} 2>&1"


rule influence:
    """Influence variation D+/D- (Eqs. 2, 4, 5 with App. A's corrections): Figs. 3 and 5."""
    input:
        base=P("attribution", state="base"),
        unlearned=lambda wc: attribution_files(wc, seed_states(ANALYSIS["influence_methods"])),
    output:
        directory(P("influence")),
    log:
        f"{W}/logs/influence/{{benchmark}}/{{model}}.log",
    benchmark:
        f"{W}/benchmarks/influence/{{benchmark}}/{{model}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        ssiuu=SSIUU,
        pairs=lambda wc, input: " ".join(
            f"{state}={path}"
            for state, path in zip(seed_states(ANALYSIS["influence_methods"]), input.unlearned)
        ),
    shell:
        "{params.ssiuu} influence --base {input.base} --unlearned {params.pairs} --out-dir {output} > {log} 2>&1"


rule distributions:
    """Attribution distributions before/after the harmful attack and Pearson rho (Fig. 6); per forget example
    the rho of every attack draw (claim 3)."""
    input:
        base=P("attribution", state="base"),
        unlearned=lambda wc: attribution_files(wc, list(distribution_states())),
        attacked=lambda wc: attribution_files(
            wc, [s for draws in distribution_states().values() for s in draws]
        ),
    output:
        directory(P("distributions")),
    log:
        f"{W}/logs/distributions/{{benchmark}}/{{model}}.log",
    benchmark:
        f"{W}/benchmarks/distributions/{{benchmark}}/{{model}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        ssiuu=SSIUU,
        pairs=lambda wc: " ".join(
            f"{state}=" + ",".join(attribution_files(wc, [state, *draws]))
            for state, draws in distribution_states().items()
        ),
    shell:
        "{params.ssiuu} distributions --base {input.base} --pairs {params.pairs} --out {output} > {log} 2>&1"


rule logit_lens:
    """Logit-lens accuracy of P(gold) > P(distractor) by layer (Fig. 4)."""
    input:
        unpack(lens_states),
        split=P("split"),
    output:
        P("logit_lens"),
    log:
        f"{W}/logs/logit_lens/{{benchmark}}/{{model}}.log",
    benchmark:
        f"{W}/benchmarks/logit_lens/{{benchmark}}/{{model}}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        **torch_resources(),
    params:
        ssiuu=SSIUU,
        states=lambda wc, input: " ".join(f"{name}={input[name]}" for name in lens_states(wc)),
    shell:
        "{params.ssiuu} logit-lens --benchmark {wildcards.benchmark} --model {wildcards.model} "
        "--split {input.split} --states {params.states} --out {output} > {log} 2>&1"
