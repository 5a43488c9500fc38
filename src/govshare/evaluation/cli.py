"""`govshare evaluation …`: compute a period's scores, publish a finished year, write the
reports."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from govshare.core.cli_support import console_actor, fails_cleanly
from govshare.core.errors import Invalid
from govshare.core.runtime import get_runtime
from govshare.evaluation import export
from govshare.evaluation.schemas import PublishIn
from govshare.evaluation.service import results, scores

out = Console(highlight=False)
app = typer.Typer(
    help="考核评价：计算考核得分和排名、发布年度考核结果、导出考核报告", no_args_is_help=True
)

PERIOD_HELP = "考核期：年 2026、季度 2026-Q3 或月 2026-09（默认今年）"


@app.command("compute")
@fails_cleanly
def compute(period: str = typer.Option("", "--period", help=PERIOD_HELP)) -> None:
    """按政策配置的考核指标计算各单位得分和排名（已发布年度显示发布时的结果）。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        found = results.evaluate(
            db_session,
            actor=console_actor(),
            profile=runtime.profile,
            city=runtime.city_name,
            period=scores.parse_period(period),
        )
        status = "已发布" if found.published_at else "未发布"
        for _group, label, units in found.groups:
            table = Table(
                "排名",
                "单位",
                "计算得分",
                "调整",
                "总分",
                title=f"{found.period.label}（{status}）{label}",
            )
            for u in units:
                table.add_row(
                    str(u.rank),
                    u.name,
                    f"{u.computed:.2f}",
                    f"{u.adjustment:+.2f}",
                    f"{u.total:.2f}",
                )
            out.print(table)


@app.command("publish")
@fails_cleanly
def publish(
    year: int = typer.Argument(..., help="已结束的年度，如 2025"),
    note: str = typer.Option("", "--note", help="写入考核报告的说明"),
) -> None:
    """发布年度考核结果：此后该年度的得分和排名固定不变。"""
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        made = results.publish(
            db_session,
            actor=console_actor(),
            profile=runtime.profile,
            city=runtime.city_name,
            data=PublishIn(year=year, note=note),
        )
        out.print(f"{made.year}年度考核结果已发布")


@app.command("export")
@fails_cleanly
def export_report(
    output: Path = typer.Argument(..., help="输出文件，扩展名 .xlsx 或 .pdf"),
    period: str = typer.Option("", "--period", help=PERIOD_HELP),
) -> None:
    """导出考核报告（Excel 或 PDF）。"""
    kind = output.suffix.lower().lstrip(".")
    if kind not in results.EXPORT_KINDS:
        raise Invalid("输出文件的扩展名应为 .xlsx 或 .pdf", field="output")
    runtime = get_runtime()
    with runtime.transaction() as db_session:
        found = results.report(
            db_session,
            actor=console_actor(),
            profile=runtime.profile,
            city=runtime.city_name,
            period=scores.parse_period(period),
            kind=kind,
        )
        font = runtime.settings.pdf_font
        content = export.workbook(found) if kind == "xlsx" else export.report(found, font_path=font)
    output.write_bytes(content)
    out.print(f"已写入 {output}（{found.period.label}，{len(found.units)} 个单位）")
