"""Audit scenarios for the catalog services and the inbox (see tests/test_audit_coverage.py)."""

from __future__ import annotations

from datetime import date

from govshare.catalog.schemas import RetirementIn, ReviewIn, ThemeIn, VersionIn
from govshare.catalog.service import resources, subscriptions, themes
from govshare.core.inbox import service as inbox
from govshare.core.permissions import Actor, Role
from tests.builders import actor_of, organization, user
from tests.catalog.builders import RULES, published, resource_in
from tests.scenarios import READ_ONLY, Reads, World, Writes

RES = "govshare.catalog.service.resources."
SUB = "govshare.catalog.service.subscriptions."
INBOX = "govshare.core.inbox.service."
THEMES = "govshare.catalog.service.themes."
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
    resources.request_retirement(
        w.db, actor=w.staff_actor, resource_id=resource.id, data=RetirementIn(reason="职能调整")
    )
    return resource


def scheduled_update(w: World):
    version = revision(w)
    resources.submit_version(w.db, actor=officer(w), version_id=version.id, rules=RULES)
    resources.review_version(w.db, actor=w.op, version_id=version.id, decision=APPROVE, rules=RULES)
    return version


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
    RES + "request_retirement": Writes("catalog.retirement.request", retirement_submitted),
    RES + "review_retirement": Writes(
        "catalog.retirement.approve",
        lambda w: resources.review_retirement(
            w.db, actor=w.op, resource_id=retirement_submitted(w).id, decision=APPROVE, rules=RULES
        ),
    ),
    RES + "apply_due_changes": Writes(
        "catalog.version.publish",
        lambda w: (
            scheduled_update(w),
            resources.apply_due_changes(w.db, actor=w.op, today=date(2099, 1, 1)),
        ),
    ),
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
    RES + "diff_versions": Reads(
        lambda w: resources.diff_versions(
            w.db, actor=w.op, resource_id=w.prepared.resource_id, a=1, b=2
        ),
        revision,
    ),
    RES + "department_resources": Reads(
        lambda w: resources.department_resources(w.db, actor=w.staff_actor)
    ),
    RES + "review_queue": Reads(lambda w: resources.review_queue(w.db, actor=w.op)),
    RES + "find_duplicates": Reads(
        lambda w: resources.find_duplicates(w.db, actor=w.op, item_names=["身份证号"])
    ),
    RES + "rule_problems": READ_ONLY,
    RES + "add_months": READ_ONLY,
    RES + "can_see_unpublished": READ_ONLY,
    RES + "version_input": READ_ONLY,
    RES + "narrowing_reasons": READ_ONLY,
    RES + "display": READ_ONLY,
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
    "govshare.catalog.service.search.refresh": READ_ONLY,  # part of publication's audited change
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
