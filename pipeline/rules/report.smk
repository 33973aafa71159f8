from pipeline.illustrative import illustrative_settings

ILLUSTRATIVE = illustrative_settings(config)  # settings without a cited source: 示意 stamp


# Report: bulletin sentences, tables (CSV/XLSX), maps, charts and one self-contained HTML file.

rule report:
    input:
        unpack(report_inputs),
    output:
        html=P("report_html"),
        bulletin_zh=P("bulletin_zh"),
        bulletin_en=P("bulletin_en"),
        tables=directory(P("bulletin_tables")),
        figures=[
            report(
                P("map", name=name),
                caption=f"../report/captions/{CAPTIONS.get(name, name)}.rst",
                category="{year}",
            )
            for name in FIGURES
        ],
    params:
        district_name=config["district_name"],
        district_name_en=config["district_name_en"],
        languages=config["report"]["languages"],
        model=MODEL,
        classification=config["classification"],
        units=config["report"]["units"],
        config=config,
        rainfall=config["rainfall"],
        illustrative=ILLUSTRATIVE,
    log:
        os.path.join(LOGS, "{year}", "report.log"),
    benchmark:
        os.path.join(LOGS, "{year}", "report.bench.tsv"),
    conda:
        "../../environment.yml"
    script:
        "../scripts/report.py"
