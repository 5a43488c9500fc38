"""Identity rules: organisations, users and roles, data officers, confidentiality
agreements, sign-in with lock-out, database-backed sessions, API tokens.

Split by topic; the rest of the platform imports the service functions from here.
"""

from govshare.identity.service.common import (
    DIRECTORY_READERS,
    TOKEN_PREFIX,
)
from govshare.identity.service.organizations import (
    DirectorySummary,
    create_organization,
    directory_summary,
    get_organization,
    list_organizations,
    organization_depths,
    update_organization,
)
from govshare.identity.service.sessions import (
    SignInPolicy,
    SignInResult,
    actor_for_user,
    resolve_session,
    sign_in,
    sign_out,
)
from govshare.identity.service.tokens import (
    issue_api_token,
    list_api_tokens,
    resolve_api_token,
    revoke_api_token,
)
from govshare.identity.service.users import (
    appoint_data_officer,
    change_password,
    create_user,
    data_officer_history,
    get_user,
    list_confidentiality_agreements,
    list_users,
    record_confidentiality_agreement,
    reset_password,
    unlock_user,
    update_user,
)

__all__ = [
    "DIRECTORY_READERS",
    "TOKEN_PREFIX",
    "DirectorySummary",
    "SignInPolicy",
    "SignInResult",
    "actor_for_user",
    "appoint_data_officer",
    "change_password",
    "create_organization",
    "create_user",
    "data_officer_history",
    "directory_summary",
    "get_organization",
    "get_user",
    "issue_api_token",
    "list_api_tokens",
    "list_confidentiality_agreements",
    "list_organizations",
    "list_users",
    "organization_depths",
    "record_confidentiality_agreement",
    "reset_password",
    "resolve_api_token",
    "resolve_session",
    "revoke_api_token",
    "sign_in",
    "sign_out",
    "unlock_user",
    "update_organization",
    "update_user",
]
