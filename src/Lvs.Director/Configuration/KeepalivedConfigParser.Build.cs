using Lvs.Core;
using Lvs.HealthChecks;

namespace Lvs.Director.Configuration;

/// <content>
/// The part of <see cref="KeepalivedConfigParser"/> that reads a virtual server read whole: its service, real servers and checkers built and validated as keepalived validates them.
/// </content>
public static partial class KeepalivedConfigParser
{
    /// <content>The parse state's handlers for this part.</content>
    private sealed partial class Context
    {
        /// <summary>check_data.c validate_check_config, for one virtual server: defaults, corrections, services.</summary>
        private void Build(VirtualServerBuilder vs)
        {
            var st = vs.Statement;
            var templates = new List<VirtualServiceKeyTemplate>();
            if (vs.GroupName is { } group)
            {
                if (!_groups.TryGetValue(group, out var entries))
                {
                    Error(st, $"virtual_server_group '{group}' is not defined");
                    return;
                }

                templates.AddRange(entries);
            }
            else if (vs.Mark is { } mark)
            {
                templates.Add(new VirtualServiceKeyTemplate(st, [], 0, mark, vs.Family));
            }
            else
            {
                templates.Add(new VirtualServiceKeyTemplate(st, [vs.Endpoint!.Value.Address], vs.Endpoint.Value.Port, 0, null));
            }

            if (vs.RealServers.Count == 0)
            {
                Notice(st, $"Virtual server {Name(st)} has no real servers - ignoring");
                return;
            }

            bool hasAddresses = templates.Any(t => t.Mark == 0);
            bool hasMarks = templates.Any(t => t.Mark != 0);
            var protocol = vs.Protocol;
            if (hasAddresses && protocol is null)
            {
                // "If the protocol is 0, the kernel defaults to UDP, so set it explicitly".
                Notice(st, $"Virtual server {Name(st)}: no protocol set - defaulting to UDP");
                protocol = L4Protocol.Udp;
            }
            else if (!hasAddresses && protocol is not null)
            {
                Notice(st, $"Virtual server {Name(st)}: protocol specified for fwmark - protocol will be ignored");
            }

            bool onePacket = vs.OnePacket;
            if (onePacket && hasAddresses && protocol != L4Protocol.Udp)
            {
                Notice(st, $"Virtual server {Name(st)}: one packet scheduling requires UDP - resetting");
                onePacket = false;
            }

            int persistence = vs.Persistence;
            if (persistence == 0 && templates.Any(t => t.Mark == 0 && t.Port == 0))
            {
                Notice(st, $"Virtual server {Name(st)}: zero port only valid for persistent services - setting");
                persistence = DefaultPersistenceTimeout;
            }

            string scheduler = vs.Scheduler ?? DefaultScheduler;
            if (vs.Scheduler is null)
            {
                Notice(st, $"Virtual server {Name(st)}: no scheduler set, setting default '{DefaultScheduler}'");
            }

            // Real servers: duplicates refused, method and weight from the virtual server, checkers' values inherited.
            var defaults = vs.Defaults;
            bool methodNoticed = false;
            ForwardingBuilder Method(ForwardingBuilder? own, KeepalivedStatement at)
            {
                if (own?.Method is not null)
                {
                    return own;
                }

                if (defaults.Method is null && !methodNoticed)
                {
                    Notice(st, $"Virtual server {Name(st)}: no forwarding method set, setting default NAT");
                    methodNoticed = true;
                }

                return defaults.Method is null ? new ForwardingBuilder { Method = ForwardingMethod.Nat } : defaults;
            }

            var realServers = new List<KeepalivedRealServer>();
            var endpoints = new HashSet<InetEndpoint>();
            long weightSum = 0;
            foreach (var rs in vs.RealServers)
            {
                if (!endpoints.Add(rs.Endpoint))
                {
                    Error(rs.Statement, $"real server {rs.Endpoint.Address}{(rs.Endpoint.Port == 0 ? string.Empty : $" {rs.Endpoint.Port}")} is duplicated in virtual_server {Name(st)}");
                    continue;
                }

                var forwarding = Method(rs.Forwarding, rs.Statement);
                int weight = rs.Weight ?? vs.Weight;
                weightSum += weight;
                bool alpha = rs.Alpha ?? vs.Alpha;
                var checks = new List<KeepalivedCheck>();
                foreach (var check in rs.Checks)
                {
                    var built = check.Build(rs, vs, alpha);
                    if (built.Misc is { } misc)
                    {
                        try
                        {
                            // keepalived checks the script when it reads the file (check_misc.c check_misc_script_security).
                            _ = new MiscChecker(misc);
                        }
                        catch (ArgumentException e)
                        {
                            Error(check.Statement, e.Message.Split(" (Parameter", 2)[0]);
                            continue;
                        }
                    }

                    checks.Add(built);
                }

                var server = new KeepalivedRealServer(rs.Statement.File, rs.Statement.Line, rs.Endpoint)
                {
                    Weight = weight,
                    Method = forwarding.Method!.Value,
                    TunnelType = forwarding.TunnelType,
                    TunnelPort = forwarding.TunnelPort,
                    TunnelFlags = forwarding.TunnelFlags,
                    UpperThreshold = rs.Upper,
                    LowerThreshold = rs.Lower,
                    InhibitOnFailure = rs.Inhibit ?? vs.Inhibit,
                    NotifyUp = rs.NotifyUp,
                    NotifyDown = rs.NotifyDown,
                    Checks = checks,
                };
                if (server.UpperThreshold > 0 && server.LowerThreshold > server.UpperThreshold)
                {
                    Error(rs.Statement, $"lthreshold {server.LowerThreshold} is above uthreshold {server.UpperThreshold}");
                    continue;
                }

                if (!PortsMatch(st, rs.Statement, server, templates))
                {
                    continue;
                }

                realServers.Add(server);
            }

            KeepalivedRealServer? sorry = null;
            if (vs.Sorry is { } s)
            {
                var forwarding = Method(s.Forwarding, s.Statement);
                sorry = new KeepalivedRealServer(s.Statement.File, s.Statement.Line, s.Endpoint)
                {
                    Method = forwarding.Method!.Value,
                    TunnelType = forwarding.TunnelType,
                    TunnelPort = forwarding.TunnelPort,
                    TunnelFlags = forwarding.TunnelFlags,
                    InhibitOnFailure = s.Inhibit ?? false,
                };
                _ = PortsMatch(st, s.Statement, sorry, templates);
            }

            long quorum = vs.Quorum;
            if (quorum > weightSum)
            {
                Notice(st, $"Warning - quorum {quorum} for {Name(st)} exceeds total weight of real servers {weightSum}, reducing quorum to {weightSum}");
                quorum = weightSum;
            }

            long hysteresis = vs.Hysteresis;
            if (hysteresis >= quorum && hysteresis > 0)
            {
                long reduced = Math.Max(0, quorum - 1);
                Notice(st, $"Virtual server {Name(st)}: hysteresis {hysteresis} >= quorum {quorum}; setting hysteresis to {reduced}");
                hysteresis = reduced;
            }

            // The family of a firewall-mark service: ip_family, else the servers' (check_parser.c vs_end_handler), else IPv4.
            bool markIPv6 = vs.Family ?? FamilyOf(realServers, sorry);
            var services = new List<VirtualServiceOptions>();
            foreach (var template in templates)
            {
                foreach (var key in template.Keys(protocol ?? L4Protocol.Tcp, markIPv6))
                {
                    if (!_seen.Add(key))
                    {
                        Error(template.Statement, $"virtual server {key} is defined twice");
                        continue;
                    }

                    var options = new VirtualServiceOptions(key)
                    {
                        Scheduler = scheduler,
                        SchedulerFlags = vs.Flags,
                        PersistenceTimeout = persistence,
                        PersistencePrefixLength = vs.Granularity is { } g && g == (key.IsIPv6 ? 128 : 32) ? null : vs.Granularity,
                        OnePacket = onePacket && (key.IsFirewallMark || key.Protocol == L4Protocol.Udp),
                    };
                    if (Validate(template.Statement, options, realServers, sorry))
                    {
                        services.Add(options);
                    }
                }
            }

            Servers.Add(new KeepalivedVirtualServer(st.File, st.Line, Name(st))
            {
                Services = services,
                RealServers = realServers,
                Quorum = quorum,
                Hysteresis = hysteresis,
                SorryServer = sorry,
                QuorumUp = vs.QuorumUp,
                QuorumDown = vs.QuorumDown,
                LocalAddresses = vs.LocalAddresses,
            });
        }

        private static bool FamilyOf(List<KeepalivedRealServer> servers, KeepalivedRealServer? sorry)
        {
            var all = servers.Concat(sorry is null ? [] : [sorry]).ToList();
            var direct = all.Where(s => s.Method != ForwardingMethod.Tunnel).ToList();
            var decide = direct.Count > 0 ? direct : all;
            return decide.Count > 0 && decide.All(s => s.Endpoint.Address.IsIPv6);
        }

        /// <summary>What the table (and so ipvsadm and the kernel) refuses, said at the line that causes it.</summary>
        private bool Validate(KeepalivedStatement at, VirtualServiceOptions options, List<KeepalivedRealServer> servers, KeepalivedRealServer? sorry)
        {
            try
            {
                options.Validate();
            }
            catch (ArgumentException e)
            {
                Error(at, $"virtual server {options.Key}: {e.Message}");
                return false;
            }

            bool ok = true;
            foreach (var server in servers.Concat(sorry is null ? [] : [sorry]))
            {
                try
                {
                    server.OptionsFor(options.Key).Validate(options.Key);
                }
                catch (ArgumentException e)
                {
                    Errors.Add(new ConfigurationError(server.File, server.Line, $"real server {server.Endpoint.Address} in {options.Key}: {e.Message}"));
                    ok = false;
                }
            }

            return ok;
        }

        /// <summary>check_data.c: a DR or TUN server's port that is not the service's is reset to it, with a warning.</summary>
        private bool PortsMatch(KeepalivedStatement vs, KeepalivedStatement at, KeepalivedRealServer server, List<VirtualServiceKeyTemplate> templates)
        {
            if (server.Method is ForwardingMethod.Nat or ForwardingMethod.FullNat || server.Endpoint.Port == 0)
            {
                return true;
            }

            foreach (var template in templates)
            {
                if (template.Mark != 0)
                {
                    Notice(at, $"WARNING - fwmark virtual server {Name(vs)}, real server {server.Endpoint.Address} has port specified - port will be ignored");
                    return true;
                }

                if (template.Port != server.Endpoint.Port)
                {
                    Notice(at, $"WARNING - virtual server {Name(vs)} and real server {server.Endpoint} ports don't match - resetting");
                    return true;
                }
            }

            return true;
        }

        private static string Name(KeepalivedStatement st) => string.Join(' ', st.Words.Skip(1));
    }
}
