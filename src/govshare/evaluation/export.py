"""A period's evaluation as a workbook (a ranking sheet per group, the indicators, each
unit's facts) and as a PDF report in the city's name."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font

from govshare.core import clock, pdf
from govshare.evaluation.service.results import Result
from govshare.evaluation.service.scores import fact_labels

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOLD = Font(bold=True)


def _status(result: Result) -> str:
    if result.published_at is None:
        return f"未发布，按 {clock.today().isoformat()} 的事实计算"
    return f"已于 {clock.to_city(result.published_at).strftime('%Y-%m-%d')} 发布"


def workbook(result: Result) -> bytes:
    """The ranking of each group, the indicators with their weights, and every fact."""
    book = Workbook()
    book.remove(book.active)
    names = [i["name"] for i in result.indicators]
    for _group, label, units in result.groups:
        sheet = book.create_sheet(label[:28])
        sheet.append([f"{result.city}{result.period.label}政务信息资源共享工作考核（{label}）"])
        sheet.append([_status(result)])
        sheet.append(["排名", "单位", *names, "计算得分", "调整", "总分"])
        for cell in sheet[3]:
            cell.font = BOLD
        for u in units:
            sheet.append(
                [
                    u.rank,
                    u.name,
                    *(s.score for s in u.indicators),
                    u.computed,
                    u.adjustment,
                    u.total,
                ]
            )
        sheet.column_dimensions["B"].width = 28
        sheet.freeze_panes = "C4"
    sheet = book.create_sheet("考核指标")
    sheet.append(["指标", "权重", "计算方法", "依据", "说明"])
    for cell in sheet[1]:
        cell.font = BOLD
    for i in result.indicators:
        sheet.append([i["name"], i["weight"], i["formula"], i["citation"], i["note"]])
    sheet = book.create_sheet("考核事实")
    labels = fact_labels()
    keys = list(dict.fromkeys(k for i in result.indicators for k in i["facts"]))
    sheet.append(["单位", *(labels.get(k, k) for k in keys)])
    for cell in sheet[1]:
        cell.font = BOLD
    for u in result.units:
        facts = {k: v for s in u.indicators for k, v in s.facts.items()}
        sheet.append([u.name, *(facts.get(k, 0) for k in keys)])
    sheet = book.create_sheet("得分调整")
    sheet.append(["单位", "分值", "理由", "调整人", "时间"])
    for u in result.units:
        for a in u.adjustments:
            sheet.append([u.name, a["points"], a["reason"], a["made_by"], a["made_at"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _date(result: Result) -> str:
    on = clock.to_city(result.published_at).date() if result.published_at else clock.today()
    return f"{on.year}年{on.month}月{on.day}日"


def report(result: Result, *, font_path: str = "") -> bytes:
    """The evaluation report (考核结果通报) as PDF, issued in the evaluator's name."""
    evaluator = result.evaluator
    issuer = result.city + evaluator[1:] if evaluator.startswith("市") else evaluator
    blocks: list[str | pdf.Table] = [
        f"根据政务信息资源共享管理有关规定，现将{result.period.label}各单位政务信息资源共享工作"
        f"考核结果公布如下（{_status(result)}）。",
    ]
    if result.note:
        blocks.append(result.note)
    for number, (_group, label, units) in zip("一二", result.groups, strict=False):
        blocks.append(f"{number}、{label}")
        blocks.append(
            pdf.Table(
                ["排名", "单位", "计算得分", "调整", "总分"],
                [
                    [
                        u.rank,
                        u.name,
                        f"{u.computed:.2f}",
                        f"{u.adjustment:+.2f}" if u.adjustment else "—",
                        f"{u.total:.2f}",
                    ]
                    for u in units
                ],
                [1, 5, 1.6, 1.4, 1.6],
            )
        )
    blocks.append("考核指标及权重：")
    blocks.append(
        pdf.Table(
            ["指标", "权重", "计算方法", "依据"],
            [
                [i["name"], f"{i['weight']:g}", i["formula"], i["citation"]]
                for i in result.indicators
            ],
            [2, 1, 6, 2],
        )
    )
    adjusted = [(u, a) for u in result.units for a in u.adjustments]
    if adjusted:
        blocks.append("得分调整：")
        blocks.append(
            pdf.Table(
                ["单位", "分值", "理由"],
                [[u.name, f"{a['points']:+g}", a["reason"]] for u, a in adjusted],
                [3, 1, 7],
            )
        )
    return pdf.render(
        pdf.Document(
            title=f"{result.city}{result.period.label}政务信息资源共享工作考核结果",
            issuer=issuer,
            blocks=blocks,
            signed_on=_date(result),
            copy_note="本报告由政务信息资源共享平台依据台账和监督记录生成。",
        ),
        font_path=font_path,
    )
