"""Facts about Iterable shared by the connector and the sandbox (regions,
campaign states and types, template kinds, list and field types, export data types, managed user fields)."""

from __future__ import annotations

REGION_BASE_URLS = {
    "us": "https://api.iterable.com",
    "eu": "https://api.eu.iterable.com",
}

CAMPAIGN_STATES = (
    "Draft",
    "Ready",
    "Scheduled",
    "Running",
    "Finished",
    "Starting",
    "Aborted",
    "Recurring",
    "Archived",
)
CAMPAIGN_TYPES = ("Blast", "Triggered")

TEMPLATE_TYPES = ("Base", "Blast", "Triggered", "Workflow")
# messageMedium value in the templates list → path segment of /api/templates/{medium}/get
TEMPLATE_MEDIUMS = {"Email": "email", "Push": "push", "SMS": "sms", "InApp": "inapp"}

LIST_TYPES = ("Standard", "Dynamic", "Suppression", "Internal")

USER_FIELD_TYPES = ("string", "long", "double", "boolean", "date", "geo_location", "object", "nested")
CATALOG_FIELD_TYPES = ("boolean", "date", "geo_location", "long", "double", "object", "string")

# dataTypeName values of /api/export/data.json, data.csv and /api/export/start (Swagger enum).
EXPORT_DATA_TYPES = (
    "emailSend",
    "emailOpen",
    "emailClick",
    "hostedUnsubscribeClick",
    "emailComplaint",
    "emailBounce",
    "emailSendSkip",
    "pushSend",
    "pushOpen",
    "pushUninstall",
    "pushBounce",
    "pushSendSkip",
    "inAppSend",
    "inAppOpen",
    "inAppClick",
    "inAppClose",
    "inAppDelete",
    "inAppDelivery",
    "inAppSendSkip",
    "inAppRecall",
    "inboxSession",
    "inboxMessageImpression",
    "smsSend",
    "smsBounce",
    "smsClick",
    "smsReceived",
    "smsSendSkip",
    "webPushSend",
    "webPushClick",
    "webPushSendSkip",
    "rcsSend",
    "rcsSendSkip",
    "emailSubscribe",
    "emailUnSubscribe",
    "purchase",
    "customEvent",
    "user",
    "smsUsageInfo",
    "embeddedSend",
    "embeddedSendSkip",
    "embeddedClick",
    "embeddedReceived",
    "embeddedImpression",
    "embeddedSession",
    "unknownSession",
    "journeyExit",
    "whatsAppBounce",
    "whatsAppClick",
    "whatsAppReceived",
    "whatsAppSeen",
    "whatsAppSend",
    "whatsAppSendSkip",
    "whatsAppUsageInfo",
)

# Iterable-managed user fields (support article 217744303) and their getFields types.
MANAGED_USER_FIELDS = {
    "email": "string",
    "userId": "string",
    "signupDate": "date",
    "signupSource": "string",
    "profileUpdatedAt": "date",
    "emailListIds": "long",
    "unsubscribedChannelIds": "long",
    "unsubscribedMessageTypeIds": "long",
    "subscribedMessageTypeIds": "long",
    "phoneNumber": "string",
    "itblInternal": "object",
    "devices": "nested",
}
