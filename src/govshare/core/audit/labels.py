"""Audit actions in the interface's words. Every action a service records has a label here
(a test checks), so an auditor reads 重置密码, not identity.user.reset_password."""

from __future__ import annotations

ACTION_LABELS = {
    "audit.export": "导出审计日志",
    "audit.prune": "清理过期审计日志",
    "audit.query": "查询审计日志",
    "calendar.import_year": "录入节假日安排",
    "catalog.due.apply": "执行到期的目录变更",
    "catalog.narrowing.flag": "报告缩小共享范围",
    "catalog.resource.create": "编制资源目录",
    "catalog.resource.retire": "资源下架生效",
    "catalog.retirement.approve": "批准资源下架",
    "catalog.retirement.request": "申请资源下架",
    "catalog.retirement.return": "退回下架申请",
    "catalog.subscription.create": "订阅资源",
    "catalog.subscription.delete": "取消订阅",
    "catalog.theme.create": "设立主题目录",
    "catalog.theme.update": "修改主题目录",
    "catalog.version.approve": "审核通过资源目录",
    "catalog.version.publish": "发布资源版本",
    "catalog.version.return": "退回资源目录",
    "catalog.version.revise": "新建资源版本",
    "catalog.version.submit": "提交资源目录审核",
    "catalog.version.update": "修改资源目录草稿",
    "catalog.version.withdraw": "撤回资源版本",
    "identity.api_token.issue": "签发接口令牌",
    "identity.api_token.revoke": "吊销接口令牌",
    "identity.confidentiality.record": "登记保密协议",
    "identity.data_officer.appoint": "任命数据专员",
    "identity.organization.create": "登记组织机构",
    "identity.organization.update": "修改组织机构",
    "identity.sign_in": "登录",
    "identity.sign_in.failed": "登录失败",
    "identity.sign_in.refused_locked": "锁定期间尝试登录",
    "identity.sign_out": "退出登录",
    "identity.user.change_password": "修改本人密码",
    "identity.user.create": "创建用户",
    "identity.user.locked": "账户被锁定",
    "identity.user.reset_password": "重置密码",
    "identity.user.unlock": "解除账户锁定",
    "identity.user.update": "修改用户",
    "inbox.read": "标记消息已读",
}


def action_label(action: str) -> str:
    """The Chinese label of an action, or the action itself if it has none."""
    return ACTION_LABELS.get(action, action)
