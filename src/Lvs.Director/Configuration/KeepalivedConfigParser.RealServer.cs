using Lvs.Core;

namespace Lvs.Director.Configuration;

/// <content>
/// The part of <see cref="KeepalivedConfigParser"/> that reads real_server: its keywords.
/// </content>
public static partial class KeepalivedConfigParser
{
    /// <content>The parse state's handlers for this part.</content>
    private sealed partial class Context
    {
        private void RealServer(VirtualServerBuilder vs, KeepalivedStatement st)
        {
            if (!Values(st, 1, 2) || !Address(st, 1, out var address))
            {
                return;
            }

            ushort port = 0;
            if (st.ValueCount == 2 && !Port(st, 2, out port))
            {
                return;
            }

            var rs = new RealServerBuilder(st, new InetEndpoint(address, port));
            foreach (var child in st.Block ?? [])
            {
                RealServerKeyword(rs, child);
            }

            vs.RealServers.Add(rs);
        }

        private void RealServerKeyword(RealServerBuilder rs, KeepalivedStatement st)
        {
            switch (st.Keyword)
            {
                case "TCP_CHECK" or "HTTP_GET" or "SSL_GET" or "DNS_CHECK" or "UDP_CHECK" or "PING_CHECK" or "MISC_CHECK" or "SMTP_CHECK":
                    if (Block(st))
                    {
                        Check(rs, st);
                    }

                    return;
                case "FILE_CHECK":
                    if (Block(st))
                    {
                        FileCheck(rs, st);
                    }

                    return;
                case "BFD_CHECK":
                    Error(st, $"{st.Keyword} is not supported by this director (supported: TCP_CHECK, HTTP_GET, SSL_GET, DNS_CHECK, UDP_CHECK, PING_CHECK, MISC_CHECK, SMTP_CHECK, FILE_CHECK)");
                    return;
            }

            if (!NoBlock(st))
            {
                return;
            }

            switch (st.Keyword)
            {
                case "weight":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, Lvs.Core.RealServer.MaxWeight, "Real server weight", out long weight))
                    {
                        rs.Weight = (int)weight;
                    }

                    break;
                case "lvs_method" or "lb_kind":
                    rs.Forwarding ??= new ForwardingBuilder();
                    Forwarding(st, rs.Forwarding, "real");
                    break;
                case "uthreshold":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, int.MaxValue, "uthreshold", out long upper))
                    {
                        rs.Upper = (int)upper;
                    }

                    break;
                case "lthreshold":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, int.MaxValue, "lthreshold", out long lower))
                    {
                        rs.Lower = (int)lower;
                    }

                    break;
                case "inhibit_on_failure":
                    if (Bool(st, out bool inhibit))
                    {
                        rs.Inhibit = inhibit;
                    }

                    break;
                case "alpha":
                    if (Bool(st, out bool alpha))
                    {
                        rs.Alpha = alpha;
                    }

                    break;
                case "notify_up":
                    if (Values(st, 1) && Script(st, rs.NotifyUp, out string? up))
                    {
                        rs.NotifyUp = up;
                    }

                    break;
                case "notify_down":
                    if (Values(st, 1) && Script(st, rs.NotifyDown, out string? down))
                    {
                        rs.NotifyDown = down;
                    }

                    break;
                case "delay_loop":
                    if (Timer(st, false, out var delay))
                    {
                        rs.Timing.DelayLoop = delay;
                    }

                    break;
                case "delay_before_retry":
                    if (Timer(st, true, out var dbr))
                    {
                        rs.Timing.DelayBeforeRetry = dbr;
                    }

                    break;
                case "warmup":
                    if (Timer(st, true, out var warmup))
                    {
                        rs.Timing.Warmup = warmup;
                    }

                    break;
                case "connect_timeout":
                    if (Timer(st, false, out var connect))
                    {
                        rs.Timing.ConnectTimeout = connect;
                    }

                    break;
                case "retry":
                    if (Values(st, 1, 1) && UInt(st, 1, 1, int.MaxValue, "retry", out long retry))
                    {
                        rs.Timing.Retry = (int)retry;
                    }

                    break;
                case "virtualhost":
                    if (Values(st, 1))
                    {
                        rs.VirtualHost = st.JoinedValues;
                    }

                    break;
                case "smtp_alert" or "snmp_name":
                    Notice(st, $"'{st.Keyword}' is not done by this director: skipped");
                    break;
                default:
                    Error(st, $"unknown keyword '{st.Keyword}' in real_server");
                    break;
            }
        }
    }
}
