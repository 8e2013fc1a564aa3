// SPDX-License-Identifier: LGPL-2.1-or-later
// CodexAuth for Qt: the login, from org.codex.Auth1 through the proxy qdbusxml2cpp generates.
#include "codexauth.h"

#include <QDBusConnection>
#include <QDBusPendingCallWatcher>
#include <QDBusPendingReply>
#include <QDBusServiceWatcher>
#include <QDBusVariant>

#include "codexauth1_interface.h"

static const char service[] = "org.codex.Auth1";
static const char path[] = "/org/codex/Auth1";

CodexAuth::CodexAuth(QObject *parent) : QObject(parent)
{
    QDBusConnection bus = QDBusConnection::sessionBus();

    m_iface = new OrgCodexAuth1Interface(service, path, bus, this);
    // The service answers within 15 s even while it refreshes.
    m_iface->setTimeout(20000);
    m_watcher = new QDBusServiceWatcher(service, bus,
                                        QDBusServiceWatcher::WatchForRegistration |
                                            QDBusServiceWatcher::WatchForUnregistration,
                                        this);
    connect(m_watcher, &QDBusServiceWatcher::serviceRegistered, this, &CodexAuth::onServiceRegistered);
    connect(m_watcher, &QDBusServiceWatcher::serviceUnregistered, this, &CodexAuth::onServiceUnregistered);
    bus.connect(service, path, QStringLiteral("org.freedesktop.DBus.Properties"), QStringLiteral("PropertiesChanged"),
                this, SLOT(onPropertiesChanged(QString, QVariantMap, QStringList)));
    // Reading the properties starts the service when it is not running.
    loadAll();
}

QString CodexAuth::stateText() const
{
    switch (m_state) {
    case NotRunning: return tr("Codex login service not running");
    case LoggedOut: return tr("Not signed in");
    case Ready: return tr("Ready");
    case Refreshing: return tr("Refreshing the sign-in");
    case TemporarilyFailing: return tr("Temporarily failing, will retry");
    case LogInAgain: return tr("Sign in again");
    case StoreLocked: return tr("Keyring locked");
    case StoreError: return tr("Credential store unavailable");
    }
    return QString();
}

QDateTime CodexAuth::lastRefresh() const
{
    // Microseconds since the epoch; 0: unknown.
    const qulonglong usec = m_props.value(QStringLiteral("LastRefresh")).toULongLong();
    return usec == 0 ? QDateTime() : QDateTime::fromMSecsSinceEpoch(qint64(usec / 1000), Qt::UTC);
}

void CodexAuth::loadAll()
{
    QDBusMessage call = QDBusMessage::createMethodCall(service, path, QStringLiteral("org.freedesktop.DBus.Properties"),
                                                       QStringLiteral("GetAll"));
    call << QStringLiteral("org.codex.Auth1");
    auto *watcher = new QDBusPendingCallWatcher(QDBusConnection::sessionBus().asyncCall(call, 20000), this);
    connect(watcher, &QDBusPendingCallWatcher::finished, this, [this](QDBusPendingCallWatcher *w) {
        QDBusPendingReply<QVariantMap> reply = *w;
        w->deleteLater();
        if (reply.isError())
            return; // not running: the watcher says when it comes
        if (!m_running) {
            m_running = true;
            emit runningChanged();
        }
        apply(reply.value(), true);
    });
}

void CodexAuth::onServiceRegistered()
{
    loadAll();
}

void CodexAuth::onServiceUnregistered()
{
    m_running = false;
    emit runningChanged();
    apply(QVariantMap(), true);
}

void CodexAuth::onPropertiesChanged(const QString &interface, const QVariantMap &changed, const QStringList &invalidated)
{
    if (interface != QLatin1String("org.codex.Auth1"))
        return;
    if (!invalidated.isEmpty()) {
        // Who is signed in (AuthMethod, AccountId, Email, PlanType) is
        // announced by name only, never broadcast with its value: read
        // everything again, without blocking, and show it all at once.
        loadAll();
        return;
    }
    QVariantMap next = m_props;
    for (auto it = changed.cbegin(); it != changed.cend(); ++it)
        next.insert(it.key(), it.value());
    apply(next, true);
}

// Takes the new values, emits the NOTIFY signals of what changed.
void CodexAuth::apply(const QVariantMap &props, bool replace)
{
    QVariantMap unwrapped;
    for (auto it = props.cbegin(); it != props.cend(); ++it) {
        QVariant v = it.value();
        if (v.canConvert<QDBusVariant>() && v.userType() == qMetaTypeId<QDBusVariant>())
            v = v.value<QDBusVariant>().variant();
        unwrapped.insert(it.key(), v);
    }
    const QVariantMap before = m_props;
    if (replace)
        m_props = unwrapped;
    auto differs = [&](const char *name) {
        return before.value(QLatin1String(name)) != m_props.value(QLatin1String(name));
    };
    if (differs("AuthMethod") || differs("Email") || differs("PlanType"))
        emit accountChanged();
    if (differs("RefreshErrorMessage"))
        emit refreshErrorMessageChanged();
    if (differs("LastRefresh"))
        emit lastRefreshChanged();

    // The state, derived as the GObject library does.
    State next;
    const QString method = string(QStringLiteral("AuthMethod"));
    const QString store = string(QStringLiteral("StoreState"));
    const QString refresh = string(QStringLiteral("RefreshState"));
    if (!m_running)
        next = NotRunning;
    else if (refresh == QLatin1String("poisoned"))
        next = LogInAgain;
    else if (method.isEmpty())
        next = store == QLatin1String("locked") ? StoreLocked
             : (store == QLatin1String("error") || store == QLatin1String("unavailable")) ? StoreError
             : LoggedOut;
    else if (refresh == QLatin1String("refreshing"))
        next = Refreshing;
    else if (refresh == QLatin1String("backoff"))
        next = TemporarilyFailing;
    else
        next = Ready;
    if (next != m_state) {
        m_state = next;
        emit stateChanged();
    }
}

void CodexAuth::fetchToken(bool refresh)
{
    QDBusPendingReply<QString, QString, bool> call = m_iface->GetAuthStatus(true, refresh);
    auto *watcher = new QDBusPendingCallWatcher(call, this);
    connect(watcher, &QDBusPendingCallWatcher::finished, this, [this](QDBusPendingCallWatcher *w) {
        QDBusPendingReply<QString, QString, bool> reply = *w;
        w->deleteLater();
        if (reply.isError()) {
            emit tokenFetched(QString(), reply.error().message());
            return;
        }
        const QString token = reply.argumentAt<1>();
        if (!token.isEmpty())
            emit tokenFetched(token, QString());
        else
            emit tokenFetched(QString(), m_state == LogInAgain ? tr("sign in again") : stateText());
    });
}
