"""Audit scenarios for the catalog services and the inbox (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from datetime import date

from govshare.catalog import workbook
from govshare.catalog.schemas import ChangeEventIn, RetirementIn, ReviewIn, ThemeIn, VersionIn
from govshare.catalog.service import (
    changes,
    diffs,
    indexing,
    needs,
    overview,
    projects,
    resources,
    retirements,
    spreadsheet_export,
    spreadsheet_import,
    subscriptions,
    themes,
)
from govshare.catalog.service import search as catalog_search
from govshare.core import clock
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role
from tests.builders import actor_of, organization, user
from tests.catalog.builders import RULES, published, resource_in
from tests.scenarios import READ_ONLY, Reads, World, Writes

RES = "govshare.catalog.service.resources."
CONTENTS = "govshare.catalog.service.contents."
COMMON = "govshare.catalog.service.common."
RETIRE = "govshare.catalog.service.retirements."
DIFFS = "govshare.catalog.service.diffs."
OVERVIEW = "govshare.catalog.service.overview."
SUB = "govshare.catalog.service.subscriptions."
INBOX = "govshare.core.inbox.service."
THEMES = "govshare.catalog.service.themes."
CHG = "govshare.catalog.service.changes."
NEEDS = "govshare.catalog.service.needs."
PROJ = "govshare.catalog.service.projects."
EXPORT = "govshare.catalog.service.spreadsheet_export."
IMPORT = "govshare.catalog.service.spreadsheet_import."
SEARCH = "govshare.catalog.service.search."
INDEXING = "govshare.catalog.service.indexing."
APPROVE = ReviewIn(approve=True)


def officer(w: World) -> Actor:
    """The world's department's data officer (created on first use)."""
    return actor_of(user(w.db, w.dept, [Role.DATA_OFFICER]))


def consumer(w: World) -> Actor:
    """A data officer of another department."""
    return actor_of(user(w.db, organization(w.db), [Role.DATA_OFFICER]))


def draft(w: World):
    return resources.create_resource(w.db, actor=w.staff_actor, data=resource_in(), rules=RULES)


def first_version(w: World, resource):
    return resources.list_versions(w.db, actor=w.op, resource_id=resource.id)[-1]


def submitted(w: World):
    resource = draft(w)
    version = first_version(w, resource)
    resources.submit_version(w.db, actor=officer(w), version_id=version.id, rules=RULES)
    return version


def live(w: World):
    return published(w.db, officer(w), w.op)


def revision(w: World):
    return resources.start_revision(w.db, actor=w.staff_actor, resource_id=live(w).id)


def retirement_submitted(w: World):
    resource = live(w)
    retirements.request_retirement(
        w.db, actor=officer(w), resource_id=resource.id, data=RetirementIn(reason="职能调整")
    )
    return resource


def scheduled_update(w: World):
    version = revision(w)
    resources.submit_version(w.db, actor=officer(w), version_id=version.id, rules=RULES)
    resources.review_version(w.db, actor=w.op, version_id=version.id, decision=APPROVE, rules=RULES)
    return version


def applied_when_due(w: World):
    """A change approved on 2 November under Shangrao, made effective on 2 December."""
    with clock.frozen("2026-11-02T10:00:00+08:00"):
        scheduled_update(w)
    with clock.frozen("2026-12-02T00:30:00+08:00"):
        return retirements.apply_due_changes(w.db, actor=w.op)


SCENARIOS: dict[str, Writes | Reads] = {
    RES + "create_resource": Writes("catalog.resource.create", draft),
    RES + "update_draft": Writes(
        "catalog.version.update",
        lambda w: resources.update_draft(
            w.db,
            actor=w.staff_actor,
            version_id=first_version(w, draft(w)).id,
            data=VersionIn.model_validate(resource_in(name="改名后的资源").model_dump()),
            rules=RULES,
        ),
    ),
    RES + "start_revision": Writes("catalog.version.revise", revision),
    RES + "submit_version": Writes("catalog.version.submit", submitted),
    RES + "withdraw_version": Writes(
        "catalog.version.withdraw",
        lambda w: resources.withdraw_version(
            w.db, actor=w.staff_actor, version_id=scheduled_update(w).id
        ),
    ),
    RES + "review_version": Writes(
        "catalog.version.approve",
        lambda w: resources.review_version(
            w.db, actor=w.op, version_id=submitted(w).id, decision=APPROVE, rules=RULES
        ),
    ),
    RETIRE + "request_retirement": Writes("catalog.retirement.request", retirement_submitted),
    RETIRE + "review_retirement": Writes(
        "catalog.retirement.approve",
        lambda w: retirements.review_retirement(
            w.db, actor=w.op, resource_id=retirement_submitted(w).id, decision=APPROVE, rules=RULES
        ),
    ),
    RETIRE + "apply_due_changes": Writes("catalog.version.publish", applied_when_due),
    RES + "get_resource": Reads(
        lambda w: resources.get_resource(w.db, actor=w.op, resource_id=w.prepared.id), live
    ),
    RES + "get_resource_by_code": Reads(
        lambda w: resources.get_resource_by_code(w.db, actor=w.op, code=w.prepared.code), live
    ),
    RES + "list_versions": Reads(
        lambda w: resources.list_versions(w.db, actor=w.op, resource_id=w.prepared.id), live
    ),
    RES + "get_version": Reads(
        lambda w: resources.get_version(w.db, actor=w.op, resource_id=w.prepared.id, number=1),
        live,
    ),
    RES + "working_version": Reads(
        lambda w: resources.working_version(w.db, actor=w.op, resource_id=w.prepared.resource_id),
        revision,
    ),
    DIFFS + "diff_versions": Reads(
        lambda w: diffs.diff_versions(
            w.db, actor=w.op, resource_id=w.prepared.resource_id, a=1, b=2
        ),
        revision,
    ),
    OVERVIEW + "department_resources": Reads(
        lambda w: overview.department_resources(w.db, actor=w.staff_actor)
    ),
    OVERVIEW + "review_queue": Reads(lambda w: overview.review_queue(w.db, actor=w.op)),
    OVERVIEW + "find_duplicates": Reads(
        lambda w: overview.find_duplicates(w.db, actor=w.op, item_names=["身份证号"])
    ),
    OVERVIEW + "published_counts": Reads(
        lambda w: overview.published_counts(w.db, actor=w.staff_actor, provider_id=w.dept.id)
    ),
    OVERVIEW + "catalog_summary": Reads(
        lambda w: overview.catalog_summary(w.db, actor=w.staff_actor)
    ),
    RES + "publish_imported": Writes(
        "catalog.version.publish",
        lambda w: resources.publish_imported(
            w.db, actor=w.op, version=first_version(w, draft(w)), on=date(2026, 3, 1)
        ),
    ),
    RES + "effective_date": READ_ONLY,
    CONTENTS + "rule_problems": READ_ONLY,
    RES + "add_months": READ_ONLY,
    COMMON + "next_sequence": READ_ONLY,  # its counter row is part of the caller's change
    COMMON + "locked_counter": READ_ONLY,  # as next_sequence: part of the caller's change
    COMMON + "can_see_unpublished": READ_ONLY,
    COMMON + "may_submit": READ_ONLY,
    CONTENTS + "version_input": READ_ONLY,
    CONTENTS + "narrowing_reasons": READ_ONLY,
    DIFFS + "display": READ_ONLY,
    SUB + "subscribe": Writes(
        "catalog.subscription.create",
        lambda w: subscriptions.subscribe(w.db, actor=consumer(w), resource_id=live(w).id),
    ),
    SUB + "unsubscribe": Writes(
        "catalog.subscription.delete",
        lambda w: _unsubscribe(w),
    ),
    SUB + "my_subscriptions": Reads(
        lambda w: subscriptions.my_subscriptions(w.db, actor=w.staff_actor)
    ),
    SUB + "is_subscribed": Reads(
        lambda w: subscriptions.is_subscribed(w.db, actor=w.staff_actor, resource_id=w.prepared.id),
        live,
    ),
    SUB + "subscribers": Reads(
        lambda w: subscriptions.subscribers(w.db, actor=w.op, resource_id=w.prepared.id), live
    ),
    SUB + "subscriber_counts": Reads(
        lambda w: subscriptions.subscriber_counts(w.db, [w.prepared.id]), live
    ),
    INDEXING + "refresh": READ_ONLY,  # part of publication's audited change
    SEARCH + "search": Reads(
        lambda w: catalog_search.search(
            w.db, actor=w.staff_actor, query=catalog_search.SearchQuery(text="公民身份")
        ),
        live,
    ),
    INDEXING + "reindex_all": Writes(
        "catalog.search.reindex",
        lambda w: (live(w), indexing.reindex_all(w.db, actor=w.op)),
    ),
    THEMES + "create_theme": Writes("catalog.theme.create", lambda w: theme(w)),
    THEMES + "update_theme": Writes(
        "catalog.theme.update",
        lambda w: themes.update_theme(
            w.db,
            actor=w.op,
            theme_id=theme(w).id,
            data=ThemeIn(name="营商环境", lead_organization_id=w.dept.id),
        ),
    ),
    THEMES + "get_theme": Reads(
        lambda w: themes.get_theme(w.db, actor=w.op, theme_id=w.prepared.id), lambda w: theme(w)
    ),
    THEMES + "list_themes": Reads(lambda w: themes.list_themes(w.db, actor=w.op)),
    CHG + "record_change_event": Writes("catalog.change.record", lambda w: change_event(w)),
    CHG + "close_change_event": Writes(
        "catalog.change.close",
        lambda w: changes.close_change_event(
            w.db, actor=officer(w), event_id=change_event(w).id, note="经核查无需更新"
        ),
    ),
    CHG + "get_change_event": Reads(
        lambda w: changes.get_change_event(w.db, actor=w.op, event_id=w.prepared.id),
        lambda w: change_event(w),
    ),
    CHG + "list_change_events": Reads(lambda w: changes.list_change_events(w.db, actor=w.op)),
    CHG + "overdue_departments": Reads(
        lambda w: changes.overdue_departments(w.db, actor=w.op), lambda w: change_event(w)
    ),
    CHG + "deadline": READ_ONLY,
    CHG + "is_overdue": READ_ONLY,
    CHG + "link": READ_ONLY,
    NEEDS + "state_need": Writes("catalog.need.create", lambda w: need(w)),
    NEEDS + "assign_need": Writes("catalog.need.assign", lambda w: assigned_need(w)),
    NEEDS + "answer_need": Writes(
        "catalog.need.decline",
        lambda w: needs.answer_need(
            w.db, actor=officer(w), need_id=assigned_need(w).id, fulfilled=False, answer="未采集"
        ),
    ),
    NEEDS + "get_need": Reads(
        lambda w: needs.get_need(w.db, actor=w.op, need_id=w.prepared.id), lambda w: need(w)
    ),
    NEEDS + "list_needs": Reads(lambda w: needs.list_needs(w.db, actor=w.op)),
    NEEDS + "responsibility_list": Reads(
        lambda w: needs.responsibility_list(w.db, actor=w.staff_actor),
        lambda w: (assigned_need(w), change_event(w), project(w)),
    ),
    NEEDS + "link": READ_ONLY,
    PROJ + "create_project": Writes("catalog.project.create", lambda w: project(w)),
    PROJ + "update_project": Writes(
        "catalog.project.update",
        lambda w: projects.update_project(
            w.db,
            actor=w.op,
            project_id=project(w).id,
            data=projects.ProjectIn(name="改名后的项目", project_number="XM-2", budget="2"),
        ),
    ),
    PROJ + "add_project_resource": Writes("catalog.project.resource_add", lambda w: listed(w)),
    PROJ + "remove_project_resource": Writes(
        "catalog.project.resource_remove", lambda w: _remove_project_resource(w)
    ),
    PROJ + "advance_stage": Writes(
        "catalog.project.approve",
        lambda w: projects.advance_stage(w.db, actor=w.op, project_id=listed(w).id, to="approved"),
    ),
    PROJ + "get_project": Reads(
        lambda w: projects.get_project(w.db, actor=w.op, project_id=w.prepared.id),
        lambda w: project(w),
    ),
    PROJ + "list_projects": Reads(lambda w: projects.list_projects(w.db, actor=w.op)),
    PROJ + "project_readiness": Reads(
        lambda w: projects.project_readiness(w.prepared), lambda w: listed(w)
    ),
    PROJ + "can_manage": READ_ONLY,
    PROJ + "link": READ_ONLY,
    EXPORT + "export_catalog": Writes(
        "catalog.export", lambda w: spreadsheet_export.export_catalog(w.db, actor=w.staff_actor)
    ),
    IMPORT + "import_catalog": Writes(
        "catalog.import",
        lambda w: spreadsheet_import.import_catalog(
            w.db, actor=w.op, content=catalog_file(w), rules=RULES, publish=True
        ),
    ),
    IMPORT + "template": READ_ONLY,
    INBOX + "recipients": READ_ONLY,
    INBOX + "notify": READ_ONLY,  # part of the caller's audited change; writes no entry itself
    INBOX + "unread_count": Reads(lambda w: inbox.unread_count(w.db, actor=w.staff_actor)),
    INBOX + "list_notifications": Reads(
        lambda w: inbox.list_notifications(w.db, actor=w.staff_actor)
    ),
    INBOX + "get_notification": READ_ONLY,
    INBOX + "mark_read": Writes("inbox.read", lambda w: inbox.mark_read(w.db, actor=w.staff_actor)),
}


def _unsubscribe(w: World) -> None:
    resource, who = live(w), consumer(w)
    subscriptions.subscribe(w.db, actor=who, resource_id=resource.id)
    subscriptions.unsubscribe(w.db, actor=who, resource_id=resource.id)


def theme(w: World):
    data = ThemeIn(name="一件事一次办", lead_organization_id=w.dept.id)
    return themes.create_theme(w.db, actor=w.op, data=data)


def change_event(w: World):
    data = ChangeEventIn(cause="law_change", description="条例修订", occurred_on=date(2026, 3, 2))
    return changes.record_change_event(w.db, actor=w.staff_actor, data=data, rules=RULES)


def need(w: World):
    data = needs.NeedIn(
        title="殡葬信息", description="办理丧葬补助需要", expected_provider_id=w.dept.id
    )
    return needs.state_need(w.db, actor=consumer(w), data=data)


def assigned_need(w: World):
    return needs.assign_need(w.db, actor=w.op, need_id=need(w).id, organization_id=w.dept.id)


def project(w: World):
    data = projects.ProjectIn(
        organization_id=w.dept.id, name="智慧民政", project_number="XM-1", budget="1000000"
    )
    return projects.create_project(w.db, actor=w.op, data=data)


def listed(w: World):
    """A project with one draft resource in its catalog."""
    made = project(w)
    return projects.add_project_resource(
        w.db, actor=w.op, project_id=made.id, resource_id=draft(w).id
    )


def _remove_project_resource(w: World) -> None:
    made = listed(w)
    resource_id = made.resource_rows[0].resource_id
    projects.remove_project_resource(w.db, actor=w.op, project_id=made.id, resource_id=resource_id)


def catalog_file(w: World) -> bytes:
    """A catalog workbook with one resource of the world's department."""
    row = {
        "name": "婚姻登记办事指南",
        "provider_uscc": w.dept.uscc,
        "catalog_kind": "部门信息资源目录",
        "summary": "本市婚姻登记办事指南文件",
        "format": "电子文件",
        "share_type": "无条件共享",
        "share_methods": "共享平台·文件",
        "update_frequency": "不定期",
        "domain": "政务综合",
    }
    return workbook.write_workbook([row], [])
