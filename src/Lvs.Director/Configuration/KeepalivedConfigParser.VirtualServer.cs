using System.Globalization;
using Lvs.Core;
using Lvs.Scheduling;

namespace Lvs.Director.Configuration;

/// <content>
/// The part of <see cref="KeepalivedConfigParser"/> that reads virtual_server: its keywords, flags and forwarding settings.
/// </content>
public static partial class KeepalivedConfigParser
{
    /// <content>The parse state's handlers for this part.</content>
    private sealed partial class Context
    {
        private void VirtualServer(KeepalivedStatement st)
        {
            if (!Values(st, 1, 2) || !Block(st))
            {
                return;
            }

            var vs = new VirtualServerBuilder(st);
            switch (st[1])
            {
                case "group":
                    if (st.ValueCount != 2)
                    {
                        Error(st, "'virtual_server group' takes the group's name");
                        return;
                    }

                    vs.GroupName = st[2];
                    break;
                case "fwmark":
                    if (st.ValueCount != 2 || !UInt(st, 2, 1, uint.MaxValue, "virtual server fwmark", out long mark))
                    {
                        if (st.ValueCount != 2)
                        {
                            Error(st, "'virtual_server fwmark' takes the mark");
                        }

                        return;
                    }

                    vs.Mark = (uint)mark;
                    break;
                default:
                    if (!Address(st, 1, out var address))
                    {
                        return;
                    }

                    ushort port = 0;
                    if (st.ValueCount == 2 && !Port(st, 2, out port))
                    {
                        return;
                    }

                    vs.Endpoint = new InetEndpoint(address, port);
                    break;
            }

            foreach (var child in st.Block!)
            {
                VirtualServerKeyword(vs, child);
            }

            Build(vs);
        }

        private void VirtualServerKeyword(VirtualServerBuilder vs, KeepalivedStatement st)
        {
            if (st.Keyword is "real_server")
            {
                RealServer(vs, st);
                return;
            }

            if (!NoBlock(st))
            {
                return;
            }

            switch (st.Keyword)
            {
                case "lvs_sched" or "lb_algo":
                    if (Values(st, 1, 1))
                    {
                        if (_schedulers.Names.Contains(st[1], StringComparer.Ordinal))
                        {
                            vs.Scheduler = st[1];
                        }
                        else
                        {
                            Error(st, $"Invalid lvs_scheduler '{st[1]}'");
                        }
                    }

                    break;
                case "lvs_method" or "lb_kind":
                    Forwarding(st, vs.Defaults, "virtual");
                    break;
                case "protocol":
                    if (Values(st, 1, 1))
                    {
                        switch (st[1].ToUpperInvariant())
                        {
                            case "TCP":
                                vs.Protocol = L4Protocol.Tcp;
                                break;
                            case "UDP":
                                vs.Protocol = L4Protocol.Udp;
                                break;
                            case "SCTP":
                                vs.Protocol = L4Protocol.Sctp;
                                break;
                            default:
                                Error(st, $"Unknown protocol {st[1]}");
                                break;
                        }
                    }

                    break;
                case "persistence_timeout":
                    if (st.ValueCount == 0)
                    {
                        vs.Persistence = DefaultPersistenceTimeout;
                    }
                    else if (Values(st, 0, 1) && UInt(st, 1, 1, ConnectionTracking.ConnectionTimeouts.MaxSeconds, "persistence_timeout", out long timeout))
                    {
                        vs.Persistence = (int)timeout;
                    }

                    break;
                case "persistence_granularity":
                    Granularity(vs, st);
                    break;
                case "persistence_engine":
                    Error(st, "persistence engines are not supported by this director");
                    break;
                case "ops" or "hashed" or "flag-1" or "flag-2" or "flag-3" or "sh-port" or "sh-fallback" or "mh-port" or "mh-fallback":
                    if (Values(st, 0, 0))
                    {
                        Flag(vs, st);
                    }

                    break;
                case "delay_loop":
                    if (Timer(st, false, out var delay))
                    {
                        vs.Timing.DelayLoop = delay;
                    }

                    break;
                case "delay_before_retry":
                    if (Timer(st, true, out var dbr))
                    {
                        vs.Timing.DelayBeforeRetry = dbr;
                    }

                    break;
                case "warmup":
                    if (Timer(st, true, out var warmup))
                    {
                        vs.Timing.Warmup = warmup;
                    }

                    break;
                case "connect_timeout":
                    if (Timer(st, false, out var connect))
                    {
                        vs.Timing.ConnectTimeout = connect;
                    }

                    break;
                case "retry":
                    if (Values(st, 1, 1) && UInt(st, 1, 1, int.MaxValue, "retry", out long retry))
                    {
                        vs.Timing.Retry = (int)retry;
                    }

                    break;
                case "inhibit_on_failure":
                    if (Values(st, 0, 0))
                    {
                        vs.Inhibit = true;
                    }

                    break;
                case "alpha":
                    if (Values(st, 0, 0))
                    {
                        vs.Alpha = true;
                    }

                    break;
                case "omega":
                    if (Values(st, 0, 0))
                    {
                        Notice(st, "omega (run the down scripts at shutdown) is not done by this director: skipped");
                    }

                    break;
                case "quorum":
                    if (Values(st, 1, 1) && UInt(st, 1, 1, uint.MaxValue, "quorum", out long quorum))
                    {
                        vs.Quorum = quorum;
                    }

                    break;
                case "hysteresis":
                    if (Values(st, 1, 1) && UInt(st, 1, 0, uint.MaxValue, "hysteresis", out long hysteresis))
                    {
                        vs.Hysteresis = hysteresis;
                    }

                    break;
                case "quorum_up":
                    if (Values(st, 1) && Script(st, vs.QuorumUp, out string? up))
                    {
                        vs.QuorumUp = up;
                    }

                    break;
                case "quorum_down":
                    if (Values(st, 1) && Script(st, vs.QuorumDown, out string? down))
                    {
                        vs.QuorumDown = down;
                    }

                    break;
                case "weight":
                    if (Values(st, 1, 1) && UInt(st, 1, 1, Lvs.Core.RealServer.MaxWeight, "Virtual server weight", out long weight))
                    {
                        vs.Weight = (int)weight;
                    }

                    break;
                case "virtualhost":
                    if (Values(st, 1))
                    {
                        vs.VirtualHost = st.JoinedValues;
                    }

                    break;
                case "sorry_server":
                    if (Values(st, 1, 2) && Address(st, 1, out var sorryAddress))
                    {
                        ushort sorryPort = 0;
                        if (st.ValueCount == 1 || Port(st, 2, out sorryPort))
                        {
                            vs.Sorry = new RealServerBuilder(st, new InetEndpoint(sorryAddress, sorryPort));
                        }
                    }

                    break;
                case "sorry_server_inhibit":
                    if (Values(st, 0, 0))
                    {
                        if (vs.Sorry is null)
                        {
                            Error(st, "sorry_server_inhibit used before or without sorry_server");
                        }
                        else
                        {
                            vs.Sorry.Inhibit = true;
                        }
                    }

                    break;
                case "sorry_server_lvs_method":
                    if (vs.Sorry is null)
                    {
                        Error(st, "sorry_server_lvs_method used before or without sorry_server");
                    }
                    else
                    {
                        vs.Sorry.Forwarding ??= new ForwardingBuilder();
                        Forwarding(st, vs.Sorry.Forwarding, "sorry");
                    }

                    break;
                case "ip_family":
                    if (Values(st, 1, 1))
                    {
                        if (st[1] is "inet" or "inet6")
                        {
                            vs.Family = st[1] == "inet6";
                        }
                        else
                        {
                            Error(st, $"unknown address family {st[1]}");
                        }
                    }

                    break;
                case "laddr_group_name":
                    if (Values(st, 1, 1))
                    {
                        if (_localGroups.TryGetValue(st[1], out var local))
                        {
                            vs.LocalAddresses = local;
                        }
                        else
                        {
                            Error(st, $"local_address_group '{st[1]}' is not defined");
                        }
                    }

                    break;
                case "ha_suspend" or "smtp_alert" or "snmp_name":
                    Notice(st, $"'{st.Keyword}' is not done by this director: skipped");
                    break;
                default:
                    Error(st, $"unknown keyword '{st.Keyword}' in virtual_server");
                    break;
            }
        }

        private bool Script(KeepalivedStatement st, string? existing, out string? script)
        {
            script = null;
            if (existing is not null)
            {
                Error(st, $"{st.Keyword} script already specified");
                return false;
            }

            // keepalived runs the first word (quoted: the whole string) with the rest as a user and group.
            if (st.ValueCount > 1)
            {
                Notice(st, $"{st.Keyword}: the user and group '{string.Join(' ', st.Words.Skip(2))}' are not applied (scripts run as the director's user)");
            }

            script = st[1];
            return true;
        }

        private void Granularity(VirtualServerBuilder vs, KeepalivedStatement st)
        {
            if (!Values(st, 1, 1))
            {
                return;
            }

            bool v6 = vs.Family ?? vs.Endpoint?.Address.IsIPv6 ?? !st[1].Contains('.', StringComparison.Ordinal);
            if (v6)
            {
                if (!UInt(st, 1, 1, 128, "IPv6 persistence_granularity", out long length))
                {
                    return;
                }

                vs.Granularity = (int)length;
            }
            else
            {
                if (!InetAddress.TryParse(st[1], out var mask) || !mask.IsIPv4)
                {
                    Error(st, $"Invalid IPv4 persistence_granularity specified - {st[1]}");
                    return;
                }

                uint bits = mask.IPv4Value;
                int length = System.Numerics.BitOperations.PopCount(bits);
                if (bits != (length == 0 ? 0u : uint.MaxValue << (32 - length)))
                {
                    // The table keeps the granularity as a prefix length (see the ipvsadm part's deviations).
                    Error(st, $"persistence_granularity {st[1]} is not a contiguous netmask (only prefix masks are supported)");
                    return;
                }

                vs.Granularity = length;
            }

            vs.Family ??= v6;
            if (vs.Persistence == 0)
            {
                vs.Persistence = DefaultPersistenceTimeout;
            }
        }

        private void Flag(VirtualServerBuilder vs, KeepalivedStatement st)
        {
            // check_parser.c lbflags_handler: sh-* only with sh, mh-* only with mh, as the scheduler stands when read.
            switch (st.Keyword)
            {
                case "ops":
                    vs.OnePacket = true;
                    break;
                case "hashed":
                    Notice(st, "'hashed' (IP_VS_SVC_F_HASHED, set by the kernel itself) has no effect: skipped");
                    break;
                case "flag-1":
                    vs.Flags |= SchedulerFlags.Fallback;
                    break;
                case "flag-2":
                    vs.Flags |= SchedulerFlags.Port;
                    break;
                case "flag-3":
                    vs.Flags |= SchedulerFlags.Flag3;
                    break;
                default:
                    string scheduler = st.Keyword[..2];
                    if (vs.Scheduler != scheduler)
                    {
                        Error(st, $"{st.Keyword} only applies to the {scheduler} scheduler (set lvs_sched {scheduler} before it)");
                        break;
                    }

                    vs.Flags |= st.Keyword.EndsWith("-port", StringComparison.Ordinal) ? SchedulerFlags.Port : SchedulerFlags.Fallback;
                    break;
            }
        }

        /// <summary>check_parser.c svr_forwarding_handler: NAT, DR, TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum], and the forks' FNAT.</summary>
        private void Forwarding(KeepalivedStatement st, ForwardingBuilder into, string kind)
        {
            if (!Values(st, 1))
            {
                return;
            }

            ForwardingMethod method;
            switch (st[1])
            {
                case "NAT":
                    method = ForwardingMethod.Nat;
                    break;
                case "DR":
                    method = ForwardingMethod.DirectRouting;
                    break;
                case "TUN":
                    method = ForwardingMethod.Tunnel;
                    break;
                case "FNAT":
                    method = ForwardingMethod.FullNat;
                    break;
                default:
                    Error(st, $"unknown [{st[1]}] routing method for {kind} server");
                    return;
            }

            var type = TunnelType.IpIp;
            ushort port = 0;
            var flags = TunnelFlags.None;
            for (int i = 2; i <= st.ValueCount; i++)
            {
                string word = st[i];
                if (method != ForwardingMethod.Tunnel)
                {
                    Error(st, $"Invalid tunnel option {word} for {kind} server (only TUN takes options)");
                    return;
                }

                switch (word)
                {
                    case "type":
                        if (i == st.ValueCount)
                        {
                            Error(st, $"Missing tunnel type for {kind} server.");
                            return;
                        }

                        switch (st[++i])
                        {
                            case "ipip":
                                type = TunnelType.IpIp;
                                break;
                            case "gue":
                                type = TunnelType.Gue;
                                break;
                            case "gre":
                                type = TunnelType.Gre;
                                break;
                            default:
                                Error(st, $"Unknown tunnel type {st[i]} for {kind} server.");
                                return;
                        }

                        break;
                    case "port":
                        if (i == st.ValueCount)
                        {
                            Error(st, $"Missing port for {kind} server gue tunnel.");
                            return;
                        }

                        if (!ushort.TryParse(st[++i], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port == 0)
                        {
                            Error(st, $"Invalid gue tunnel port {st[i]} for {kind} server.");
                            return;
                        }

                        break;
                    case "nocsum":
                        flags = TunnelFlags.None;
                        break;
                    case "csum":
                        flags = TunnelFlags.Checksum;
                        break;
                    case "remcsum":
                        flags = TunnelFlags.RemoteChecksum;
                        break;
                    default:
                        Error(st, $"Invalid tunnel option {word} for {kind} server.");
                        return;
                }
            }

            if ((type == TunnelType.Gue) != (port != 0))
            {
                Error(st, "gue tunnels require port, otherwise cannot have port.");
                return;
            }

            if (type == TunnelType.IpIp && flags != TunnelFlags.None)
            {
                Error(st, "ipip tunnels do not support checksum option.");
                return;
            }

            if (type == TunnelType.Gre && flags == TunnelFlags.RemoteChecksum)
            {
                Error(st, "gre tunnels do not support remote checksum option.");
                return;
            }

            into.Method = method;
            into.TunnelType = type;
            into.TunnelPort = port;
            into.TunnelFlags = flags;
        }
    }
}
